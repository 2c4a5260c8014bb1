import * as z from 'zod/mini';
import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_REASONS } from '../../lambdas/core/outbound/outbound-decision.js';
import { type OutcomeEntry, outcomeEvent } from '../../lambdas/core/outcomes/message-outcome.js';
import { parseRelayEvent, RELAY_EVENT_DETAIL_SHAPES } from '../../lambdas/core/outcomes/relay-event-schema.js';
import { humanReplied, clientStatusChanged, RELAY_EVENT_TYPES, type RelayEvent, relayEvent } from '../../lambdas/core/outcomes/relay-events.js';

const T0 = Date.parse('2026-12-03T10:00:00Z');
const key = { wabaId: '1029384756', messageId: 'order-1' };
const errors = [{ code: 131047, title: 'Re-engagement message', message: 'more than 24 hours', details: 'window' }];
const meta = {
  errors,
  pricing: { billable: true, category: 'utility' },
  conversation: { id: 'c1' },
  recipient: { recipientId: '15551234567', userId: 'US.13491208655302741918', parentUserId: 'US.ENT.11815799212886844830' },
};

/** Every detail the relay's code builds, each with every field it can carry. */
const emitted = (): RelayEvent[] => {
  const entries: [OutcomeEntry, Record<string, unknown>][] = [
    [{ state: 'parked', atMs: T0, source: 'relay' }, {}],
    [{ state: 'sent', atMs: T0, source: 'relay', wamid: 'wamid.A' }, {}],
    [{ state: 'sent', atMs: T0, source: 'webhook', wamid: 'wamid.A', ...meta }, {}],
    [{ state: 'delivered', atMs: T0, source: 'webhook', wamid: 'wamid.A', ...meta }, {}],
    [{ state: 'read', atMs: T0, source: 'webhook', wamid: 'wamid.A', ...meta }, {}],
    [{ state: 'failed', atMs: T0, source: 'relay', reason: 'window-closed', errors }, { fallbackMessageId: 'order-1:fallback' }],
    [{ state: 'failed', atMs: T0, source: 'webhook', wamid: 'wamid.A', reason: 'window-closed', ...meta }, { fallbackMessageId: 'order-1:fallback' }],
    ...DEAD_LETTER_REASONS.map((reason): [OutcomeEntry, Record<string, unknown>] => [{ state: 'dead-lettered', atMs: T0, source: 'relay', reason, detail: 'why' }, {}]),
  ];
  return [
    ...entries.map(([e, extra]) => outcomeEvent(key, e, { [e.state]: e }, extra) as RelayEvent),
    // As release-copy.ts builds it.
    relayEvent('message.released', { time: T0, ...key, wamid: 'wamid.A' }, [key.wabaId, key.messageId, 'released'], { releaseId: 'r-1', firstParkedAt: new Date(T0).toISOString(), fallbackMessageId: 'order-1:fallback' }),
    humanReplied({ wabaId: key.wabaId, phoneNumberId: '555001', customer: '15551234567', atMs: T0 }),
    clientStatusChanged(key.wabaId, { eventId: 'e-1', event: 'ACCOUNT_OFFBOARDED', eventTimeMs: T0, from: 'CONNECTED', to: 'OFFBOARDED' }),
  ];
};

describe('relay event schema', () => {
  it('has a detail shape for every event type', () => {
    expect(Object.keys(RELAY_EVENT_DETAIL_SHAPES).sort()).toEqual([...RELAY_EVENT_TYPES].sort());
  });

  it('every detail the relay builds has exactly the fields its type documents', () => {
    const events = emitted();
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(RELAY_EVENT_TYPES));
    for (const e of events) {
      const strict = z.strictObject(RELAY_EVENT_DETAIL_SHAPES[e.type]);
      const r = strict.safeParse(e.detail);
      expect(r.success, `${e.type}: ${JSON.stringify(e.detail)}\n${r.success ? '' : r.error.message}`).toBe(true);
      expect(parseRelayEvent(JSON.stringify(e))).toEqual(JSON.parse(JSON.stringify(e)));
    }
  });

  it('refuses a message event without its outcome and source, and keeps a field it does not know', () => {
    const e = outcomeEvent(key, { state: 'sent', atMs: T0, source: 'relay' }, { sent: { state: 'sent', atMs: T0, source: 'relay' } }) as RelayEvent;
    expect(() => parseRelayEvent(JSON.stringify({ ...e, detail: {} }))).toThrow(/detail\.outcome/);
    expect(() => parseRelayEvent(JSON.stringify({ ...e, detail: { ...e.detail, source: 'meta' } }))).toThrow(/detail\.source/);
    expect(parseRelayEvent(JSON.stringify({ ...e, detail: { ...e.detail, later: 1 } })).detail).toMatchObject({ later: 1 });
    // An event too large for SNS goes out with its detail truncated, whatever its type.
    const truncated = { truncated: { originalBytes: 300_000, sha256: 'a'.repeat(64), text: '{"outcome":"sent"' } };
    expect(parseRelayEvent(JSON.stringify({ ...e, detail: truncated })).detail).toEqual(truncated);
  });
});
