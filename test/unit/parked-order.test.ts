import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { parkedOrderKey } from '../../lambdas/core/release/release-rules.js';

const entry = fc.record({
  ms: fc.integer({ min: 0, max: 8.64e12 }),
  sequence: fc.option(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), { nil: undefined }),
  messageId: fc.string({ minLength: 1, maxLength: 20 }),
});

type Entry = typeof entry extends fc.Arbitrary<infer T> ? T : never;
const byTuple = (a: Entry, b: Entry): number =>
  a.ms !== b.ms ? a.ms - b.ms : (a.sequence ?? 0) !== (b.sequence ?? 0) ? (a.sequence ?? 0) - (b.sequence ?? 0) : a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0;

describe('the order of parked copies', () => {
  test.prop([entry, entry])('sorts by first-enqueued time, then the envelope sequence, then messageId, for any values', (a, b) => {
    const ka = parkedOrderKey(a.ms, a.messageId, a.sequence);
    const kb = parkedOrderKey(b.ms, b.messageId, b.sequence);
    expect(Math.sign(ka < kb ? -1 : ka > kb ? 1 : 0)).toBe(Math.sign(byTuple(a, b)));
  });
});
