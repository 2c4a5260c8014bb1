import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyEntry,
  decodeCallbackData,
  deriveOutcome,
  encodeCallbackData,
  entryFromStatus,
  entryKey,
  type MessageStatusUpdate,
  OUTCOME_STATES,
  type OutcomeEntry,
  type OutcomeHistory,
  outcomeEvent,
  withCallbackData,
} from '../../lambdas/core/outcomes/message-outcome.js';
import { propertyRuns } from '../support/property.js';

const T0 = Date.parse('2026-11-26T10:00:00Z');
const key = { wabaId: '1029384756', messageId: 'order-1' };
const status = (s: string, sec: number, extra: Partial<MessageStatusUpdate> = {}): MessageStatusUpdate => ({
  wamid: 'wamid.A',
  status: s,
  timestampMs: T0 + sec * 1000,
  errors: [],
  ...extra,
});
const fold = (entries: readonly OutcomeEntry[]): OutcomeHistory => entries.reduce(applyEntry, {} as OutcomeHistory);
const entry = (s: MessageStatusUpdate): OutcomeEntry => entryFromStatus(s, T0) as OutcomeEntry;

describe('message outcome', () => {
  it('moves only forward: sent < delivered < read, whatever order the statuses arrive in', () => {
    const sent = entry(status('sent', 1));
    const delivered = entry(status('delivered', 2));
    const read = entry(status('read', 3));
    expect(deriveOutcome(fold([read, sent, delivered]))?.state).toBe('read');
    expect(deriveOutcome(fold([sent, read, delivered, sent]))?.state).toBe('read');
    expect(deriveOutcome(fold([delivered]))?.state).toBe('delivered');
    // The history keeps every state reached, oldest first, with Meta's times.
    expect(deriveOutcome(fold([read, delivered, sent]))?.history.map((e) => [e.state, e.atMs - T0])).toEqual([
      ['sent', 1000],
      ['delivered', 2000],
      ['read', 3000],
    ]);
  });

  it('keeps failed and dead-lettered final: a later read does not move them back', () => {
    const failed = entry(status('failed', 5, { errors: [{ code: 131026, title: 'Message undeliverable' }] }));
    const read = entry(status('read', 9));
    const o = deriveOutcome(fold([failed, read]));
    expect(o?.state).toBe('failed');
    expect(o?.history.at(-1)?.state).toBe('read'); // recorded, not applied
    const dl: OutcomeEntry = { state: 'dead-lettered', atMs: T0, source: 'relay', reason: 'expired' };
    expect(deriveOutcome(fold([dl, entry(status('sent', 10))]))).toMatchObject({ state: 'dead-lettered', reason: 'expired' });
  });

  it('reads 131047 as window-closed; other failures keep their errors without a reason', () => {
    expect(entry(status('failed', 1, { errors: [{ code: 131047, title: 'Re-engagement message' }] }))).toMatchObject({ state: 'failed', reason: 'window-closed' });
    expect(entry(status('failed', 1, { errors: [{ code: 131026 }] })).reason).toBeUndefined();
    expect(entryFromStatus(status('deleted', 1), T0)).toBeNull();
    expect(entryFromStatus(status('warning', 1), T0)).toBeNull();
    expect(entryFromStatus(status('sent', 1, { timestampMs: null }), T0 + 5)?.atMs).toBe(T0 + 5);
  });

  it('publishes an event only for the entry that is the outcome now; a late status publishes nothing', () => {
    const read = entry(status('read', 3));
    const delivered = entry(status('delivered', 2));
    const after = fold([read, delivered]);
    expect(outcomeEvent(key, delivered, after)).toBeNull();
    const e = outcomeEvent(key, read, after);
    expect(e).toMatchObject({ type: 'message.read', wabaId: key.wabaId, messageId: key.messageId, wamid: 'wamid.A', time: new Date(T0 + 3000).toISOString() });
    // The same fact seen twice gets the same id (subscribers dedupe).
    expect(outcomeEvent(key, read, fold([read]))?.id).toBe(e?.id);
  });

  it('gives each fact its own id: the relay\'s `sent` and Meta\'s `sent` status differ; a redelivery of either keeps its id', () => {
    // Prepare: the relay's own sent (no pricing) and Meta's sent status (with pricing) for the same message.
    const relaySent: OutcomeEntry = { state: 'sent', atMs: T0, source: 'relay', wamid: 'wamid.A' };
    const metaSent = entry(status('sent', 1, { pricing: { billable: true, category: 'utility' } }));
    // Act
    const ours = outcomeEvent(key, relaySent, { sent: relaySent });
    const meta = outcomeEvent(key, metaSent, { sent: metaSent });
    // Assess: a subscriber that drops repeats by id keeps both, and with them the pricing.
    expect(meta?.detail).toMatchObject({ source: 'webhook', pricing: { category: 'utility' } });
    expect(ours?.detail).not.toHaveProperty('pricing');
    expect(ours?.id).not.toBe(meta?.id);
    // The same fact again: the relay's send retried a moment later, Meta's status delivered twice.
    const retried: OutcomeEntry = { ...relaySent, atMs: T0 + 900 };
    expect(outcomeEvent(key, retried, { sent: retried })?.id).toBe(ours?.id);
    expect(outcomeEvent(key, entry(status('sent', 1, { pricing: { billable: true, category: 'utility' } })), { sent: metaSent })?.id).toBe(meta?.id);
    // A refused send and Meta's failed status are two facts too.
    const refused: OutcomeEntry = { state: 'failed', atMs: T0, source: 'relay', errors: [{ code: 131047 }], reason: 'window-closed' };
    const failed = entry(status('failed', 2, { errors: [{ code: 131047 }] }));
    expect(outcomeEvent(key, refused, { failed: refused })?.id).not.toBe(outcomeEvent(key, failed, { failed })?.id);
  });

  it('property: any order and duplication of statuses gives the history and outcome of the sorted sequence', () => {
    const arbEntry = fc.record({
      state: fc.constantFrom(...OUTCOME_STATES),
      atMs: fc.integer({ min: T0, max: T0 + 10_000 }),
      source: fc.constantFrom('webhook' as const, 'relay' as const),
      wamid: fc.option(fc.constantFrom('wamid.A', 'wamid.B'), { nil: undefined }),
      errors: fc.option(fc.array(fc.record({ code: fc.constantFrom(131047, 131026, null) }), { maxLength: 2 }), { nil: undefined }),
    }) as fc.Arbitrary<OutcomeEntry>;
    const clean = (e: OutcomeEntry): OutcomeEntry => JSON.parse(JSON.stringify(e));
    fc.assert(
      fc.property(
        fc.array(arbEntry, { minLength: 1, maxLength: 12 }).chain((entries) =>
          fc.tuple(fc.constant(entries.map(clean)), fc.shuffledSubarray(entries.map(clean), { minLength: 0 }), fc.integer()),
        ),
        ([entries, dupes, seed]) => {
          const sorted = [...entries].sort((a, b) => (entryKey(a) < entryKey(b) ? -1 : entryKey(a) > entryKey(b) ? 1 : 0));
          // Arrival: every entry at least once, some twice, in a shuffled order.
          const arrival = [...entries, ...dupes].map((e, i) => ({ e, r: (Math.imul(i + 1, 2654435761) ^ seed) >>> 0 })).sort((a, b) => a.r - b.r).map((x) => x.e);
          const a = fold(arrival);
          const b = fold(sorted);
          expect(a).toEqual(b);
          expect(deriveOutcome(a)).toEqual(deriveOutcome(b));
        },
      ),
      { numRuns: propertyRuns(300) },
    );
  });
});

describe('callback data', () => {
  it('round-trips the message and is refused for another WABA or data that is not the relay own', () => {
    const data = encodeCallbackData({ wabaId: 'w-1', messageId: 'order #1 ✓' });
    expect(data.length).toBeLessThanOrEqual(512);
    expect(decodeCallbackData(data, 'w-1')).toEqual({ wabaId: 'w-1', messageId: 'order #1 ✓' });
    expect(decodeCallbackData(data, 'w-2')).toBeNull();
    expect(decodeCallbackData('my own data', 'w-1')).toBeNull();
    expect(decodeCallbackData('cxr1.w-1.!!', 'w-1')).toBeNull();
    expect(decodeCallbackData('cxr1.w-1.', 'w-1')).toBeNull();
    expect(decodeCallbackData(undefined, 'w-1')).toBeNull();
  });

  it('is set only when the payload has none: the sender own callback data is never overwritten', () => {
    const payload = { messaging_product: 'whatsapp' as const, to: '1555', type: 'text' };
    const mine = withCallbackData({ ...key, payload });
    expect(mine.ours).toBe(true);
    expect(decodeCallbackData(mine.payload.biz_opaque_callback_data as string, key.wabaId)).toEqual(key);
    const theirs = withCallbackData({ ...key, payload: { ...payload, biz_opaque_callback_data: 'crm-42' } });
    expect(theirs).toEqual({ payload: { ...payload, biz_opaque_callback_data: 'crm-42' }, ours: false });
  });
});
