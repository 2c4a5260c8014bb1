import { describe, expect, it } from 'vitest';
import type { ClientStatus } from '../../lambdas/core/status/client-status.js';
import { classifyCloudApiResult, type CloudApiResult } from '../../lambdas/core/outbound/cloud-api-result.js';
import { parseEnvelope, type OutboundEnvelope } from '../../lambdas/core/outbound/envelope.js';
import { FRESH, type ParkState, parkAttributes, readParkState } from '../../lambdas/core/outbound/outbound-decision.js';
import { afterAnswer, gate } from '../../lambdas/core/outbound/send-policy.js';
import type { PhoneOwner } from '../../lambdas/core/outbound/ports.js';
import type { SendVerdict } from '../../lambdas/core/outbound/cloud-api-result.js';
import { DEFAULTS } from '../../lambdas/core/shared/defaults.js';
import {
  InvalidScheduleError,
  parkDelay,
  parseDelaySchedule,
  retryDelay,
  scheduledDelay,
} from '../../lambdas/core/outbound/park-schedule.js';

const NOW = Date.parse('2026-11-25T12:00:00Z');
const envelope = (extra: Partial<OutboundEnvelope> = {}): OutboundEnvelope => ({
  messageId: 'm-1',
  wabaId: '123',
  phoneNumberId: '456',
  payload: { messaging_product: 'whatsapp', to: '15551234567', type: 'text', text: { body: 'hi' } },
  ...extra,
});
const policy = { parkDelaySchedule: [10, 60, 900], maxParkSeconds: 86_400, random: () => 0.5 };
/** The gate for a client known only by its status (no hold, no restriction). */
const decide = (status: ClientStatus, env: OutboundEnvelope, state: ParkState, now: number, p: typeof policy, phoneOwner?: PhoneOwner, behindRelease = false) =>
  gate({ client: { status, hold: { state: 'none' }, restrictions: { templatesUntilMs: null, nonTemplatesUntilMs: null } }, phoneOwner, behindRelease }, env, state, now, p);

describe('decide', () => {
  it.each([
    ['CONNECTED', 'send'],
    ['OFFBOARDED', 'park'],
    ['REMOVED', 'dead-letter'],
    ['DELETED', 'dead-letter'],
    ['DISABLED', 'dead-letter'],
  ] as const)('%s -> %s', (status: ClientStatus, action) => {
    expect(decide(status, envelope(), FRESH, NOW, policy).action).toBe(action);
  });

  it.each([
    ['REMOVED', 'client-removed'],
    ['DELETED', 'client-deleted'],
    ['DISABLED', 'client-disabled'],
  ] as const)('dead-letters a %s client as %s', (status, reason) => {
    expect(decide(status, envelope(), FRESH, NOW, policy)).toMatchObject({ action: 'dead-letter', reason });
  });

  it('parks on the schedule and carries its own park count and first-parked time', () => {
    const first = decide('OFFBOARDED', envelope(), FRESH, NOW, policy);
    expect(first).toMatchObject({ cause: 'offboarded', scope: 'client', untilMs: null }); expect(first).toMatchObject({ action: 'park', delaySeconds: 10, next: { parkCount: 1, firstParkedAt: '2026-11-25T12:00:00.000Z', sendAttempts: 0 } });
    if (first.action !== 'park') throw new Error();
    const second = decide('OFFBOARDED', envelope(), first.next, NOW + 10_000, policy);
    expect(second).toMatchObject({ action: 'park', delaySeconds: 60, next: { parkCount: 2, firstParkedAt: '2026-11-25T12:00:00.000Z' } });
    const later = decide('OFFBOARDED', envelope(), { ...first.next, parkCount: 40 }, NOW + 20_000, policy);
    expect(later).toMatchObject({ action: 'park', delaySeconds: 900 });
  });

  it('expires a message past notAfter, whatever the status, and keeps one just before it', () => {
    const env = envelope({ notAfter: new Date(NOW - 1).toISOString() });
    for (const status of ['CONNECTED', 'OFFBOARDED', 'REMOVED'] as const) {
      expect(decide(status, env, FRESH, NOW, policy)).toMatchObject({ action: 'dead-letter', reason: 'expired' });
    }
    expect(decide('CONNECTED', envelope({ notAfter: new Date(NOW).toISOString() }), FRESH, NOW, policy).action).toBe('send');
  });

  it('expires a message parked longer than MAX_PARK_SECONDS, not one exactly at it', () => {
    const state = { parkCount: 30, firstParkedAt: new Date(NOW - 86_400_000).toISOString(), sendAttempts: 0 };
    expect(decide('OFFBOARDED', envelope(), state, NOW, policy).action).toBe('park');
    expect(decide('OFFBOARDED', envelope(), state, NOW + 1000, policy)).toMatchObject({ action: 'dead-letter', reason: 'expired' });
  });
});

describe('park state attributes', () => {
  it('round-trips and treats garbage as a fresh message', () => {
    const s = { parkCount: 3, firstParkedAt: '2026-11-25T12:00:00.000Z', sendAttempts: 2 };
    expect(readParkState(parkAttributes(s), NOW)).toEqual(s);
    expect(readParkState({ 'relay-park-count': '-1', 'relay-first-parked-at': 'yesterday', 'relay-send-attempts': 'x' }, NOW)).toEqual(FRESH);
  });

  it('reads a first-parked time in the future as now, so no message escapes MAX_PARK_SECONDS', () => {
    const s = readParkState({ 'relay-park-count': '2', 'relay-first-parked-at': '2999-01-01T00:00:00Z' }, NOW);
    expect(s).toEqual({ parkCount: 2, firstParkedAt: new Date(NOW).toISOString(), sendAttempts: 0 });
  });
});

describe('phone number ownership in the decision', () => {
  const owner = (wabaId: string) => ({ wabaId, learnedFrom: 'webhook' as const, learnedAt: NOW - 1000 });
  it("dead-letters another WABA's phone number before anything else, even for an offboarded or expired message", () => {
    const e = envelope({ notAfter: '2020-01-01T00:00:00Z' });
    const d = decide('OFFBOARDED', e, FRESH, NOW, policy, owner('someone-else'));
    expect(d).toMatchObject({ action: 'dead-letter', reason: 'phone-number-mismatch' });
    expect(d.action === 'dead-letter' && d.detail).toContain(`phone number ${e.phoneNumberId} belongs to WABA someone-else`);
  });

  it('decides as before when the owner is the same WABA or unknown', () => {
    const e = envelope();
    expect(decide('CONNECTED', e, FRESH, NOW, policy, owner(e.wabaId))).toEqual({ action: 'send' });
    expect(decide('CONNECTED', e, FRESH, NOW, policy)).toEqual({ action: 'send' });
  });

  it('carries the first-enqueued time across the delay queue and parks behind a draining release', () => {
    const s = { parkCount: 3, firstParkedAt: '2026-11-25T12:00:00.000Z', sendAttempts: 2, firstEnqueuedMs: 1_764_000_000_000 };
    expect(readParkState(parkAttributes(s), NOW)).toEqual(s);
    expect(readParkState({ 'relay-first-enqueued-at': '-5' }, NOW)).toEqual(FRESH);
    expect(decide('CONNECTED', envelope(), FRESH, NOW, policy, undefined, true)).toMatchObject({ action: 'park' });
    expect(decide('REMOVED', envelope(), FRESH, NOW, policy, undefined, true)).toMatchObject({ action: 'dead-letter' });
  });
});

describe('park schedule', () => {
  it('parses, repeats the last value, and applies +/-20% jitter within SQS limits', () => {
    const s = parseDelaySchedule(DEFAULTS.parkDelaySchedule);
    expect(s[s.length - 1]).toBe(900);
    expect(scheduledDelay([5, 30], 0)).toBe(5);
    expect(scheduledDelay([5, 30], 7)).toBe(30);
    expect(parkDelay([100], 0, () => 0)).toBe(80);
    expect(parkDelay([100], 0, () => 1)).toBe(120);
    expect(parkDelay([900], 3, () => 1)).toBe(900);
    expect(parkDelay([0], 0, () => 1)).toBe(0);
  });
  it.each(['', '10,,20', '10,abc', '-5', '901', '1.5', '10, 2000'])('rejects "%s" with a clear error', (text) => {
    expect(() => parseDelaySchedule(text)).toThrow(InvalidScheduleError);
  });
  it('backs off 4^n seconds with a floor, capped at 900', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => retryDelay(n, 1, () => 0.5))).toEqual([1, 4, 16, 64, 256, 900, 900]);
    expect(retryDelay(0, 6, () => 0.5)).toBe(6);
  });
});

describe('afterAnswer', () => {
  const after = { ...policy, maxSendAttempts: 3 };
  const parked: ParkState = { parkCount: 2, firstParkedAt: new Date(NOW - 60_000).toISOString(), sendAttempts: 0 };
  const old: ParkState = { parkCount: 9, firstParkedAt: new Date(NOW - 86_401_000).toISOString(), sendAttempts: 1 };
  const sent: SendVerdict = { verdict: 'sent', wamid: 'wamid.1' };
  const retry = (minDelaySeconds = 1): SendVerdict => ({ verdict: 'retry', why: 'HTTP 500', minDelaySeconds, ambiguous: false });
  const park: SendVerdict = { verdict: 'park', why: 'HTTP 400, code 133010: x' };
  const reject: SendVerdict = { verdict: 'reject', why: 'HTTP 400, code 131047: x' };
  const expired = envelope({ notAfter: new Date(NOW - 1).toISOString() });

  // verdict, envelope, state before, expected decision (random 0.5: no jitter)
  it.each([
    ['sent', sent, envelope(), FRESH, { action: 'sent' }],
    ['sent, even past notAfter (it went out)', sent, expired, old, { action: 'sent' }],
    ['reject', reject, envelope(), FRESH, { action: 'dead-letter', reason: 'rejected-by-cloud-api', detail: reject.why, state: FRESH }],
    ['park, fresh: hold the client', park, envelope(), FRESH, { action: 'hold', reason: 'not-connected', delaySeconds: 10, next: { parkCount: 1, firstParkedAt: new Date(NOW).toISOString(), sendAttempts: 0 } }],
    ['park, already parked twice', park, envelope(), parked, { action: 'hold', delaySeconds: 900, next: { ...parked, parkCount: 3 } }],
    ['park, past notAfter', park, expired, FRESH, { action: 'dead-letter', reason: 'expired', state: FRESH }],
    ['park, parked longer than MAX_PARK_SECONDS', park, envelope(), old, { action: 'dead-letter', reason: 'expired', state: old }],
    ['retry, first attempt', retry(), envelope(), FRESH, { action: 'retry', delaySeconds: 1, next: { ...FRESH, sendAttempts: 1 } }],
    ['retry, second attempt: 4 s', retry(), envelope(), { ...FRESH, sendAttempts: 1 }, { action: 'retry', delaySeconds: 4, next: { ...FRESH, sendAttempts: 2 } }],
    ['retry, pair rate limit: at least 6 s', retry(6), envelope(), FRESH, { action: 'retry', delaySeconds: 6, next: { ...FRESH, sendAttempts: 1 } }],
    ['retry, keeps the park state', retry(), envelope(), parked, { action: 'retry', delaySeconds: 1, next: { ...parked, sendAttempts: 1 } }],
    ['retry, past notAfter', retry(), expired, FRESH, { action: 'dead-letter', reason: 'expired', state: FRESH }],
    [
      'retry, the last allowed attempt',
      retry(),
      expired,
      { ...FRESH, sendAttempts: 2 },
      { action: 'dead-letter', reason: 'rejected-by-cloud-api', detail: 'gave up after 3 attempts; last: HTTP 500', state: { ...FRESH, sendAttempts: 3 } },
    ],
  ] as const)('%s', (_name, verdict, env, state, expected) => {
    expect(afterAnswer(verdict, env, state, NOW, after)).toMatchObject(expected);
  });
});

describe('afterAnswer: the one rule the consumer and the release follow', () => {
  const policy3 = { parkDelaySchedule: [10], maxParkSeconds: 86_400, maxSendAttempts: 3, random: () => 0.5 };
  const parked: ParkState = { parkCount: 2, firstParkedAt: new Date(NOW - 60_000).toISOString(), sendAttempts: 2 };
  const limited = (rateLimit: 'throughput' | 'pair-rate'): SendVerdict => ({
    verdict: 'retry',
    why: 'rate',
    minDelaySeconds: rateLimit === 'pair-rate' ? 6 : 1,
    ambiguous: false,
    rateLimit,
  });

  it('backs off longer with every rate-limit answer and never counts one as an attempt, even at the last attempt', () => {
    const delays = [0, 1, 2, 3, 4].map((hits) => {
      const r = afterAnswer(limited('pair-rate'), envelope(), { ...parked, rateLimitHits: hits }, NOW, policy3);
      expect(r).toMatchObject({ action: 'retry', rateLimit: 'pair-rate', next: { sendAttempts: 2, rateLimitHits: hits + 1 } });
      return r.action === 'retry' ? r.delaySeconds : -1;
    });
    expect(delays).toEqual([6, 6, 16, 64, 256]);
    expect(afterAnswer(limited('throughput'), envelope(), parked, NOW, policy3)).toMatchObject({ action: 'retry', delaySeconds: 4, rateLimit: 'throughput' });
  });

  it('holds the client (the release stops, the consumer parks on its schedule) unless the message expired', () => {
    const park: SendVerdict = { verdict: 'park', why: 'HTTP 400, code 133010: x' };
    expect(afterAnswer(park, envelope(), parked, NOW, policy3)).toMatchObject({ action: 'hold', reason: 'not-connected' });
    const token: SendVerdict = { verdict: 'token-invalid', why: 'HTTP 401, code 190: x' };
    expect(afterAnswer(token, envelope(), parked, NOW, policy3)).toMatchObject({ action: 'hold', reason: 'token-invalid' });
    expect(afterAnswer(token, envelope({ notAfter: new Date(NOW - 1).toISOString() }), parked, NOW, policy3)).toMatchObject({ action: 'dead-letter', reason: 'expired' });
    expect(afterAnswer(park, envelope({ notAfter: new Date(NOW - 1).toISOString() }), parked, NOW, policy3)).toMatchObject({ action: 'dead-letter', reason: 'expired' });
  });

  it('rate-limits a message past its deadline into expired, counting the wait from the first deferral', () => {
    const longAgo: ParkState = { ...FRESH, firstParkedAt: new Date(NOW - 86_401_000).toISOString() };
    expect(afterAnswer(limited('pair-rate'), envelope(), longAgo, NOW, policy3)).toMatchObject({ action: 'dead-letter', reason: 'expired' });
    expect(afterAnswer(limited('pair-rate'), envelope(), FRESH, NOW, policy3)).toMatchObject({ action: 'retry', next: { firstParkedAt: new Date(NOW).toISOString() } });
  });
});

describe('classifyCloudApiResult', () => {
  const http = (status: number, code?: number, subcode?: number): CloudApiResult => ({
    kind: 'http-error',
    status,
    error: code === undefined ? null : { code, ...(subcode !== undefined ? { subcode } : {}), message: 'x', fbtraceId: 't' },
  });
  it.each([
    ['200 with wamid', { kind: 'accepted', wamid: 'wamid.1' } as CloudApiResult, 'sent'],
    ['HTTP 429 without body', http(429), 'retry'],
    ['HTTP 500', http(500), 'retry'],
    ['HTTP 503 code 2', http(503, 2), 'retry'],
    ['130429 throughput', http(400, 130429), 'retry'],
    ['131056 pair rate', http(400, 131056), 'retry'],
    ['80007 rate limit', http(400, 80007), 'retry'],
    ['131000 something went wrong', http(500, 131000), 'retry'],
    ['131016 service unavailable', http(503, 131016), 'retry'],
    ['133004 server unavailable', http(503, 133004), 'retry'],
    ['131057 maintenance', http(400, 131057), 'retry'],
    ['133010 not registered', http(400, 133010), 'park'],
    ['131045 incorrect certificate', http(400, 131045), 'park'],
    ['131031 account locked', http(400, 131031), 'park'],
    ['368 temporarily blocked', http(400, 368), 'park'],
    ['190 token expired: the token, not the number', http(401, 190), 'token-invalid'],
    ['0 AuthException', http(401, 0), 'token-invalid'],
    ['10 permission', http(403, 10), 'token-invalid'],
    ['200 permission', http(403, 200), 'token-invalid'],
    ['100 subcode 33', http(400, 100, 33), 'park'],
    ['100 invalid parameter', http(400, 100), 'reject'],
    ['131026 undeliverable', http(400, 131026), 'reject'],
    ['131047 window closed', http(400, 131047), 'reject'],
    ['131049 marketing limit', http(400, 131049), 'reject'],
    ['131050 stopped marketing', http(400, 131050), 'reject'],
    ['130403 permission', http(403, 130403), 'reject'],
    ['132001 template missing', http(404, 132001), 'reject'],
    ['HTTP 400 without body', http(400), 'reject'],
    ['connection refused', { kind: 'no-answer', ambiguous: false, message: 'ECONNREFUSED' } as CloudApiResult, 'retry'],
    ['timeout', { kind: 'no-answer', ambiguous: true, message: 'timeout' } as CloudApiResult, 'retry'],
  ])('%s -> %s', (_name, result, verdict) => {
    expect(classifyCloudApiResult(result).verdict).toBe(verdict);
  });
  it('marks only unanswered requests as ambiguous and waits at least 6 s on the pair rate limit', () => {
    expect(classifyCloudApiResult({ kind: 'no-answer', ambiguous: true, message: 't' })).toMatchObject({ ambiguous: true });
    expect(classifyCloudApiResult(http(500))).toMatchObject({ ambiguous: false });
    expect(classifyCloudApiResult(http(400, 131056))).toMatchObject({ minDelaySeconds: 6 });
  });
});

describe('parseEnvelope', () => {
  it('accepts the documented format', () => {
    const r = parseEnvelope(JSON.stringify({ ...envelope(), notAfter: '2026-11-25T13:00:00Z', metadata: { order: 7 } }));
    expect(r.ok).toBe(true);
  });
  it.each([
    ['not JSON', '{', 'body is not JSON'],
    ['missing messageId', JSON.stringify({ ...envelope(), messageId: undefined }), 'messageId'],
    ['messageId too long', JSON.stringify(envelope({ messageId: 'x'.repeat(129) })), 'messageId'],
    ['wrong messaging_product', JSON.stringify(envelope({ payload: { messaging_product: 'sms', to: '1' } as never })), 'payload.messaging_product'],
    ['no recipient', JSON.stringify(envelope({ payload: { messaging_product: 'whatsapp' } as never })), 'payload.to'],
    ['bad notAfter', JSON.stringify(envelope({ notAfter: 'tomorrow' })), 'notAfter'],
    ['misspelt field', JSON.stringify({ ...envelope(), not_after: '2026-01-01T00:00:00Z' }), 'not_after'],
    ['path traversal in phone number id', JSON.stringify(envelope({ phoneNumberId: '../me' })), 'phoneNumberId'],
  ])('rejects %s, naming the problem', (_n, body, mention) => {
    const r = parseEnvelope(body);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problem).toContain(mention);
  });
});
