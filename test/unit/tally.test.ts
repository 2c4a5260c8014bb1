import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchIdOf, messageChangeOf } from '../../lambdas/adapters/dynamo/message-stream.js';
import { LEDGER_STATES, type LedgerState } from '../../lambdas/core/outbound/send-ledger.js';
import { type MessageItemChange, tally } from '../../lambdas/core/status/tally.js';
import { propertyRuns } from '../support/property.js';

const change = (wabaId: string, before: [LedgerState | null, boolean] | null, after: [LedgerState | null, boolean]): MessageItemChange => ({
  wabaId,
  before: before ? { state: before[0], parked: before[1] } : null,
  after: { state: after[0], parked: after[1] },
});

describe('tally: client counters from message item changes', () => {
  it('counts a claim, a confirm, a first park and an ambiguous resend once each, per client', () => {
    const t = tally([
      change('a', null, ['SENDING', false]),
      change('a', ['SENDING', false], ['SENT', false]),
      // A status webhook's outcome write on a sent message: no state change, nothing counted.
      change('a', ['SENT', false], ['SENT', false]),
      change('b', null, [null, true]),
      change('b', [null, true], ['SENDING', true]),
      change('b', ['SENDING', true], ['AMBIGUOUS', true]),
      change('b', ['AMBIGUOUS', true], ['SENDING', true]),
      change('b', ['SENDING', true], ['DEAD_LETTERED', true]),
      change('c', ['SENDING', false], ['RELEASED', false]),
    ]);
    expect(t).toEqual([
      { wabaId: 'a', parked: 0, sent: 1, deadLettered: 0, ambiguousResends: 0 },
      { wabaId: 'b', parked: 1, sent: 0, deadLettered: 1, ambiguousResends: 1 },
    ]);
  });

  it('counts what each change reached, whatever the batch and its order (property)', () => {
    const state = fc.constantFrom<LedgerState | null>(null, ...LEDGER_STATES);
    const image = fc.tuple(state, fc.boolean());
    const anyChange = fc.record({ wabaId: fc.constantFrom('w1', 'w2', 'w3'), before: fc.option(image, { nil: null }), after: image }).map((c) => change(c.wabaId, c.before, c.after));
    fc.assert(
      fc.property(fc.array(anyChange, { maxLength: 40 }), (changes) => {
        const t = tally(changes);
        for (const w of ['w1', 'w2', 'w3']) {
          const mine = changes.filter((c) => c.wabaId === w);
          const got = t.find((x) => x.wabaId === w) ?? { parked: 0, sent: 0, deadLettered: 0, ambiguousResends: 0 };
          expect(got.sent).toBe(mine.filter((c) => c.after.state === 'SENT' && c.before?.state !== 'SENT').length);
          expect(got.deadLettered).toBe(mine.filter((c) => c.after.state === 'DEAD_LETTERED' && c.before?.state !== 'DEAD_LETTERED').length);
          expect(got.parked).toBe(mine.filter((c) => c.after.parked && !c.before?.parked).length);
        }
        // One addition per client with something to add, never an empty one.
        expect(new Set(t.map((x) => x.wabaId)).size).toBe(t.length);
        for (const x of t) expect(x.parked + x.sent + x.deadLettered + x.ambiguousResends).toBeGreaterThan(0);
      }),
      { numRuns: propertyRuns(200) },
    );
  });
});

describe('the table stream as the tally reads it', () => {
  const record = (eventName: 'INSERT' | 'MODIFY' | 'REMOVE', pk: string, oldState?: string, newState?: string) => ({
    eventID: `e-${pk}-${newState}`,
    eventName,
    dynamodb: {
      Keys: { pk: { S: pk }, sk: { S: 'SEND' } },
      ...(oldState ? { OldImage: { state: { S: oldState } } } : {}),
      ...(newState ? { NewImage: { state: { S: newState } } } : {}),
    },
  });

  it('maps a write to a message item, and nothing else', () => {
    expect(messageChangeOf(record('MODIFY', 'WABA#w-1#MSG#m#x', 'SENDING', 'SENT'))).toEqual({
      wabaId: 'w-1',
      before: { state: 'SENDING', parked: false },
      after: { state: 'SENT', parked: false },
    });
    const parked = { eventName: 'MODIFY' as const, dynamodb: { Keys: { pk: { S: 'WABA#w#MSG#m' } }, OldImage: {}, NewImage: { out_parked: { M: {} } } } };
    expect(messageChangeOf(parked)).toEqual({ wabaId: 'w', before: { state: null, parked: false }, after: { state: null, parked: true } });
    expect(messageChangeOf(record('REMOVE', 'WABA#w#MSG#m', 'SENT'))).toBeNull();
    expect(messageChangeOf(record('MODIFY', 'CLIENT#w', undefined, 'SENT'))).toBeNull();
    expect(messageChangeOf(record('MODIFY', 'WABA##MSG#m', undefined, 'SENT'))).toBeNull();
    // A state this version does not know reads as none: never counted as sent.
    expect(messageChangeOf(record('MODIFY', 'WABA#w#MSG#m', 'SENDING', 'SHIPPED'))?.after.state).toBeNull();
  });

  it('names a batch by its first and last record, so a retry of the same batch has the same name', () => {
    const a = [record('MODIFY', 'WABA#w#MSG#1', 'SENDING', 'SENT'), record('MODIFY', 'WABA#w#MSG#2', 'SENDING', 'SENT')];
    expect(batchIdOf(a)).toBe(batchIdOf([...a]));
    expect(batchIdOf(a)).not.toBe(batchIdOf(a.slice(0, 1)));
  });
});
