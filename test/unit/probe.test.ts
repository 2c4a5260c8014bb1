import { describe, expect, it } from 'vitest';
import { minProbeGapSeconds, type ProbePolicy, type ProbeResult, probeBackoffSeconds, probesInFirstHour, readProbe } from '../../lambdas/core/health/probe.js';

const ok = (body: unknown): ProbeResult => ({ kind: 'answer', httpStatus: 200, body });
const err = (httpStatus: number, code: number, subcode?: number): ProbeResult => ({
  kind: 'answer',
  httpStatus,
  body: { error: { code, ...(subcode !== undefined ? { error_subcode: subcode } : {}), message: 'Unsupported get request', fbtrace_id: 't' } },
});

describe('readProbe', () => {
  it.each<[string, ProbeResult, string]>([
    ['health AVAILABLE, no errors', ok({ health_status: { can_send_message: 'AVAILABLE', entities: [{ entity_type: 'PHONE_NUMBER', can_send_message: 'AVAILABLE' }] } }), 'can-send'],
    ['CONNECTED on the Cloud API', ok({ status: 'CONNECTED', platform_type: 'CLOUD_API', is_on_biz_app: true }), 'can-send'],
    ['CONNECTED but on-premise', ok({ status: 'CONNECTED', platform_type: 'ON_PREMISE' }), 'cannot-send'],
    ['DISCONNECTED', ok({ status: 'DISCONNECTED', platform_type: 'CLOUD_API' }), 'cannot-send'],
    ['health BLOCKED', ok({ health_status: { can_send_message: 'BLOCKED' } }), 'cannot-send'],
    ['an entity BLOCKED', ok({ health_status: { can_send_message: 'LIMITED', entities: [{ can_send_message: 'BLOCKED' }] } }), 'cannot-send'],
    ['AVAILABLE but with entity errors', ok({ health_status: { can_send_message: 'AVAILABLE', entities: [{ errors: [{ error_code: 141010 }] }] } }), 'unclear'],
    ['LIMITED alone', ok({ health_status: { can_send_message: 'LIMITED' } }), 'unclear'],
    ['LIMITED, CONNECTED on the Cloud API', ok({ status: 'CONNECTED', platform_type: 'CLOUD_API', health_status: { can_send_message: 'LIMITED' } }), 'can-send'],
    ['PENDING', ok({ status: 'PENDING', platform_type: 'NOT_APPLICABLE' }), 'unclear'],
    ['an empty object', ok({}), 'unclear'],
    ['not an object', ok('yes'), 'unclear'],
    ['fields of the wrong type are ignored', ok({ status: 7, platform_type: ['CLOUD_API'], health_status: 'AVAILABLE' }), 'unclear'],
    ['error 100/33', err(400, 100, 33), 'cannot-send'],
    ['error 100/33 with string codes', { kind: 'answer', httpStatus: 400, body: { error: { code: '100', error_subcode: '33' } } }, 'cannot-send'],
    ['error 100 without subcode', err(400, 100), 'error'],
    ['error 190 (token)', err(401, 190), 'error'],
    ['HTTP 500 without a body', { kind: 'answer', httpStatus: 500, body: null }, 'error'],
    ['HTTP 429, code 4', err(429, 4), 'error'],
    ['no answer', { kind: 'no-answer', message: 'TimeoutError' }, 'error'],
  ])('%s -> %s', (_name, result, verdict) => {
    expect(readProbe(result).verdict).toBe(verdict);
  });

  it('says which fields decided, never the whole body', () => {
    const r = readProbe(ok({ status: 'CONNECTED', platform_type: 'CLOUD_API', display_phone_number: '+1 555 0100', name_status: 'APPROVED' }));
    expect(r.detail).toBe('status CONNECTED, platform_type CLOUD_API');
    expect(readProbe(err(400, 100, 33)).detail).toContain('100/33');
  });
});

describe('probe schedule', () => {
  const policy: ProbePolicy = { intervalSeconds: 60, maxIntervalSeconds: 900, budgetShare: 0.02, budgetPerHour: 5000 };

  it('never probes closer than the interval or than the budget share allows', () => {
    expect(minProbeGapSeconds(policy)).toBe(60);
    expect(minProbeGapSeconds({ ...policy, intervalSeconds: 10 })).toBe(36); // 2% of 5000 = 100 per hour
    expect(minProbeGapSeconds({ ...policy, budgetShare: 0.001 })).toBe(720); // 5 per hour
    expect(minProbeGapSeconds({ ...policy, budgetShare: 0 })).toBe(Number.POSITIVE_INFINITY);
  });

  it('doubles from the interval up to the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 40].map((a) => probeBackoffSeconds(policy, a))).toEqual([60, 120, 240, 480, 900, 900, 900]);
    // A cap below the budget gap never wins over the budget.
    expect(probeBackoffSeconds({ ...policy, intervalSeconds: 10, maxIntervalSeconds: 20 }, 3)).toBe(36);
  });

  it('a client held for an hour is probed 7 times in that hour at the default interval, then 4 an hour', () => {
    // t = 0, 60, 180, 420, 900, 1800, 2700 s; then every 900 s.
    expect(probesInFirstHour(policy)).toBe(7);
  });
});
