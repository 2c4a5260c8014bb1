import { fc, test as fcTest } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import {
  type ClientHealth,
  clientGate,
  disableWarningInForce,
  type HoldRecord,
  holdState,
  isTemplate,
  refusalCode,
  restrictionsInForce,
  RESTRICTION_TYPES,
  type RestrictionRecord,
} from '../../lambdas/core/health/client-health.js';
import { type LatestByClass, orderKeyOf, type StatusClass, type StatusEventRecord } from '../../lambdas/core/status/client-status.js';
import type { OutboundEnvelope } from '../../lambdas/core/outbound/envelope.js';
import { FRESH, type ParkState } from '../../lambdas/core/outbound/outbound-decision.js';
import { type SendFacts, gate as policyGate } from '../../lambdas/core/outbound/send-policy.js';

const decideFor = (client: SendFacts['client'], env: OutboundEnvelope, state: ParkState, now: number, p: Parameters<typeof policyGate>[4]) => {
  const d = policyGate({ client }, env, state, now, p);
  return { ...d, cause: d.action === 'park' && d.cause !== 'offboarded' ? d.cause : undefined };
};
import { propertyRuns } from '../support/property.js';

const T0 = Date.parse('2026-11-25T12:00:00Z');
const rec = (event: string, timeMs: number, banState?: string): StatusEventRecord => ({
  orderKey: orderKeyOf(timeMs, `e-${timeMs}`),
  event,
  eventId: `e-${timeMs}`,
  eventTimeMs: timeMs,
  appliedAt: new Date(timeMs).toISOString(),
  ...(banState ? { banState } : {}),
});
const hold = (startedAtMs: number): HoldRecord => ({
  holdId: `h-${startedAtMs}`,
  startedAtMs,
  code: '133010',
  why: 'Account not registered',
  phoneNumberId: '555001',
  messageId: 'm-1',
});
const restriction = (entries: { type: string; expiresAtMs: number | null }[]): RestrictionRecord => ({
  orderKey: orderKeyOf(T0, 'r'),
  eventId: 'r',
  eventTimeMs: T0,
  appliedAt: new Date(T0).toISOString(),
  restrictions: entries,
});
const envelope = (type: string, extra: Partial<OutboundEnvelope> = {}): OutboundEnvelope => ({
  messageId: 'm-1',
  wabaId: '123',
  phoneNumberId: '456',
  payload: { messaging_product: 'whatsapp', to: '15551234567', type },
  ...extra,
});
const policy = { parkDelaySchedule: [10, 60, 900], maxParkSeconds: 86_400, random: () => 0.5 };
const healthPolicy = { reconnectSkewMs: 300_000, probeEndsOffboarding: false };

describe('holdState', () => {
  it.each<[string, ClientHealth, LatestByClass, string, string?]>([
    ['no hold', {}, {}, 'none'],
    ['a hold and nothing newer', { hold: hold(T0) }, { RECONNECTED: rec('ACCOUNT_RECONNECTED', T0 - 1000) }, 'in-force'],
    ['a status event stamped after the hold', { hold: hold(T0) }, { RECONNECTED: rec('ACCOUNT_RECONNECTED', T0 + 1000) }, 'ended', 'status-event'],
    ['an OFFBOARDED stamped after the hold (the status takes over)', { hold: hold(T0) }, { OFFBOARDED: rec('ACCOUNT_OFFBOARDED', T0 + 1) }, 'ended', 'status-event'],
    ['an event stamped at the same time as the hold', { hold: hold(T0) }, { CONNECTED: rec('PARTNER_ADDED', T0) }, 'in-force'],
    ['a can-send probe after the hold', { hold: hold(T0), canSendAtMs: T0 + 60_000 }, {}, 'ended', 'probe'],
    ['a can-send probe before the hold', { hold: hold(T0), canSendAtMs: T0 - 1 }, {}, 'in-force'],
    ['probe first, then an event: the probe ended it', { hold: hold(T0), canSendAtMs: T0 + 5 }, { CONNECTED: rec('PARTNER_ADDED', T0 + 9) }, 'ended', 'probe'],
    ['event first, then a probe: the event ended it', { hold: hold(T0), canSendAtMs: T0 + 9 }, { CONNECTED: rec('PARTNER_ADDED', T0 + 5) }, 'ended', 'status-event'],
  ])('%s -> %s', (_name, health, latest, state, endedBy) => {
    const s = holdState(health, latest);
    expect(s.state).toBe(state);
    if (endedBy) expect(s).toMatchObject({ endedBy });
  });

  fcTest.prop(
    [
      fc.integer({ min: 0, max: 10_000 }),
      fc.array(fc.tuple(fc.constantFrom<StatusClass>('CONNECTED', 'RECONNECTED', 'OFFBOARDED'), fc.integer({ min: 0, max: 10_000 })), { maxLength: 6 }),
      fc.option(fc.integer({ min: 0, max: 10_000 }), { nil: undefined }),
    ],
    { numRuns: propertyRuns(200) },
  )('is the same whatever order the evidence arrived in (latest of each class kept)', (start, events, canSend) => {
    const keep = (order: typeof events): LatestByClass => {
      const latest: Record<string, StatusEventRecord> = {};
      for (const [cls, t] of order) {
        const r = rec(cls, T0 + t);
        const cur = latest[cls];
        if (!cur || cur.orderKey < r.orderKey) latest[cls] = r;
      }
      return latest;
    };
    const health: ClientHealth = { hold: hold(T0 + start), ...(canSend !== undefined ? { canSendAtMs: T0 + canSend } : {}) };
    expect(holdState(health, keep([...events].reverse()))).toEqual(holdState(health, keep(events)));
  });
});

describe('restrictionsInForce', () => {
  it.each<[string, { type: string; expiresAtMs: number | null }[], number | null, number | null]>([
    ['none', [], null, null],
    ['business-initiated, running', [{ type: RESTRICTION_TYPES.bizInitiated, expiresAtMs: T0 + 60_000 }], T0 + 60_000, null],
    ['business-initiated, expired', [{ type: RESTRICTION_TYPES.bizInitiated, expiresAtMs: T0 }], null, null],
    ['customer-initiated, running', [{ type: RESTRICTION_TYPES.customerInitiated, expiresAtMs: T0 + 1 }], null, T0 + 1],
    ['both', [{ type: RESTRICTION_TYPES.customerInitiated, expiresAtMs: T0 + 5 }, { type: RESTRICTION_TYPES.bizInitiated, expiresAtMs: T0 + 7 }], T0 + 7, T0 + 5],
    ['adding phone numbers only: no message waits', [{ type: 'RESTRICTED_ADD_PHONE_NUMBER_ACTION', expiresAtMs: T0 + 5 }], null, null],
    ['no usable expiration', [{ type: RESTRICTION_TYPES.bizInitiated, expiresAtMs: null }], Number.POSITIVE_INFINITY, null],
  ])('%s', (_name, entries, templates, nonTemplates) => {
    expect(restrictionsInForce(restriction(entries), T0)).toEqual({ templatesUntilMs: templates, nonTemplatesUntilMs: nonTemplates });
  });
});

describe('disableWarningInForce', () => {
  const warning = { orderKey: orderKeyOf(T0, 'w'), eventId: 'w', eventTimeMs: T0, appliedAt: new Date(T0).toISOString() };
  it.each<[string, LatestByClass, boolean]>([
    ['nothing after it', {}, true],
    ['an older REINSTATE', { CONNECTED: rec('DISABLED_UPDATE', T0 - 1, 'REINSTATE') }, true],
    ['a later REINSTATE', { CONNECTED: rec('DISABLED_UPDATE', T0 + 1, 'REINSTATE') }, false],
    ['a later PARTNER_ADDED (not about the ban)', { CONNECTED: rec('PARTNER_ADDED', T0 + 1) }, true],
    ['a later DISABLE', { DISABLED: rec('DISABLED_UPDATE', T0 + 1, 'DISABLE') }, false],
  ])('%s -> %s', (_name, latest, shown) => {
    expect(disableWarningInForce(warning, latest) !== null).toBe(shown);
  });
});

describe('clientGate', () => {
  const offboarded: LatestByClass = { OFFBOARDED: rec('ACCOUNT_OFFBOARDED', T0) };
  it('a can-send probe after a webhook-set OFFBOARDED changes nothing by default', () => {
    const g = clientGate(offboarded, { canSendAtMs: T0 + 1 }, T0 + 2, healthPolicy);
    expect(g).toMatchObject({ status: 'OFFBOARDED', offboardingEndedByProbe: false });
  });
  it('it reads as CONNECTED when the stage says probes may end offboardings', () => {
    const on = { ...healthPolicy, probeEndsOffboarding: true };
    expect(clientGate(offboarded, { canSendAtMs: T0 + 1 }, T0 + 2, on)).toMatchObject({ status: 'CONNECTED', offboardingEndedByProbe: true });
    // ... but not a probe older than the offboarding, nor a later offboarding.
    expect(clientGate(offboarded, { canSendAtMs: T0 - 1 }, T0 + 2, on).status).toBe('OFFBOARDED');
    expect(clientGate({ OFFBOARDED: rec('ACCOUNT_OFFBOARDED', T0 + 5) }, { canSendAtMs: T0 + 1 }, T0 + 6, on).status).toBe('OFFBOARDED');
    // Never a terminal status.
    expect(clientGate({ REMOVED: rec('PARTNER_REMOVED', T0) }, { canSendAtMs: T0 + 1 }, T0 + 2, on).status).toBe('REMOVED');
  });
});

describe('decideFor', () => {
  const gate = (over: Partial<Parameters<typeof decideFor>[0]> = {}): Parameters<typeof decideFor>[0] => ({
    status: 'CONNECTED',
    hold: { state: 'none' },
    restrictions: { templatesUntilMs: null, nonTemplatesUntilMs: null },
    ...over,
  });
  const biz = { templatesUntilMs: T0 + 120_000, nonTemplatesUntilMs: null };
  const customer = { templatesUntilMs: null, nonTemplatesUntilMs: T0 + 120_000 };
  it.each<[string, Parameters<typeof decideFor>[0], string, string, string | undefined]>([
    ['connected, text', gate(), 'text', 'send', undefined],
    ['held, text', gate({ hold: { state: 'in-force', hold: hold(T0) } }), 'text', 'park', 'held'],
    ['held, template', gate({ hold: { state: 'in-force', hold: hold(T0) } }), 'template', 'park', 'held'],
    ['hold ended', gate({ hold: { state: 'ended', hold: hold(T0), endedBy: 'probe', endedAtMs: T0 } }), 'text', 'send', undefined],
    ['offboarded and held: parked as offboarded', gate({ status: 'OFFBOARDED', hold: { state: 'in-force', hold: hold(T0) } }), 'text', 'park', undefined],
    ['removed and held: dead-lettered', gate({ status: 'REMOVED', hold: { state: 'in-force', hold: hold(T0) } }), 'text', 'dead-letter', undefined],
    ['business-initiated restriction, template', gate({ restrictions: biz }), 'template', 'park', 'restricted'],
    ['business-initiated restriction, text', gate({ restrictions: biz }), 'text', 'send', undefined],
    ['customer-initiated restriction, template', gate({ restrictions: customer }), 'template', 'send', undefined],
    ['customer-initiated restriction, interactive', gate({ restrictions: customer }), 'interactive', 'park', 'restricted'],
  ])('%s (%s) -> %s', (_name, g, type, action, cause) => {
    const d = decideFor(g, envelope(type), FRESH, T0, policy);
    expect(d.action).toBe(action);
    expect(d.cause).toBe(cause);
  });

  it('a restricted message wakes just after the expiration, at most 900 s per hop', () => {
    expect(decideFor(gate({ restrictions: biz }), envelope('template'), FRESH, T0, policy)).toMatchObject({
      action: 'park',
      delaySeconds: 121,
      next: { parkCount: 1, firstParkedAt: new Date(T0).toISOString() },
    });
    const long = { templatesUntilMs: T0 + 3 * 3600_000, nonTemplatesUntilMs: null };
    expect(decideFor(gate({ restrictions: long }), envelope('template'), FRESH, T0, policy)).toMatchObject({ action: 'park', delaySeconds: 900 });
  });

  it('dead-letters expired at once when the restriction ends after the message deadline', () => {
    const notAfter = new Date(T0 + 60_000).toISOString();
    const d = decideFor(gate({ restrictions: biz }), envelope('template', { notAfter }), FRESH, T0, policy);
    expect(d).toMatchObject({ action: 'dead-letter', reason: 'expired' });
    if (d.action === 'dead-letter') expect(d.detail).toContain('RESTRICTED_BIZ_INITIATED_MESSAGING');
    // MAX_PARK_SECONDS counts from the first park.
    const shortPolicy = { ...policy, maxParkSeconds: 60 };
    expect(decideFor(gate({ restrictions: biz }), envelope('template'), FRESH, T0, shortPolicy).action).toBe('dead-letter');
    expect(decideFor(gate({ restrictions: biz }), envelope('template'), FRESH, T0, { ...policy, maxParkSeconds: 120 }).action).toBe('park');
  });

  it('a restriction without a usable expiration parks on the schedule', () => {
    const open = { templatesUntilMs: Number.POSITIVE_INFINITY, nonTemplatesUntilMs: null };
    expect(decideFor(gate({ restrictions: open }), envelope('template'), FRESH, T0, policy)).toMatchObject({ action: 'park', delaySeconds: 10 });
  });
});

describe('small helpers', () => {
  it('isTemplate reads payload.type', () => {
    expect(isTemplate({ type: 'template' })).toBe(true);
    expect(isTemplate({ type: 'text' })).toBe(false);
    expect(isTemplate({})).toBe(false);
  });
  it('refusalCode', () => {
    expect(refusalCode(133010, undefined)).toBe('133010');
    expect(refusalCode(100, 33)).toBe('100/33');
    expect(refusalCode(undefined, undefined)).toBe('unknown');
  });
});
