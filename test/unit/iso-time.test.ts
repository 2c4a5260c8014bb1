import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { isoTime } from '../../lambdas/core/shared/iso-time.js';
import { propertyRuns } from '../support/property.js';

describe('isoTime: toISOString\'s text', () => {
  test.prop([fc.oneof(fc.integer({ min: 0, max: 253_402_300_799_999 }), fc.integer({ min: 1_700_000_000_000, max: 1_900_000_000_000 }))], {
    numRuns: propertyRuns(5000),
  })('writes every time from 1970 to 9999 as Date does', (ms) => {
    expect(isoTime(ms)).toBe(new Date(ms).toISOString());
  });

  test.prop([fc.double({ min: -8.64e15, max: 8.64e15, noNaN: true })], { numRuns: propertyRuns(2000) })('agrees on fractions and any year Date can write', (ms) => {
    expect(isoTime(ms)).toBe(new Date(ms).toISOString());
  });

  it('agrees at the edges, and refuses what Date refuses', () => {
    for (const ms of [0, 999, 1000, 951_782_400_000, 253_402_300_799_999, 253_402_300_800_000, -1, -62_198_755_200_000, 8.64e15, -8.64e15, -0]) {
      expect(isoTime(ms)).toBe(new Date(ms).toISOString());
    }
    for (const ms of [Number.NaN, 8.64e15 + 1, Number.POSITIVE_INFINITY]) expect(() => isoTime(ms)).toThrow(RangeError);
  });
});
