import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { CallWindow, maxPerWindow, PACE_MARGIN_MS, paceIntervalMs, reserveSlot } from '../../lambdas/core/release/pacing.js';

const runs = Number(process.env.FC_NUM_RUNS) > 0 ? Number(process.env.FC_NUM_RUNS) : 100;

describe('release pacing', () => {
  it('spaces slots so that `rate` calls span more than a second plus the margin', () => {
    expect(paceIntervalMs(15)).toBe(70);
    expect(paceIntervalMs(20)).toBe(53);
    expect(() => paceIntervalMs(0)).toThrow(RangeError);
  });

  test.prop(
    [
      fc.integer({ min: 1, max: 30 }),
      fc.array(fc.record({ gap: fc.integer({ min: 0, max: 300 }), late: fc.integer({ min: 0, max: PACE_MARGIN_MS - 1 }) }), { minLength: 1, maxLength: 120 }),
    ],
    { numRuns: runs },
  )('reservations at any times, each call up to the margin late: never more than `rate` calls in any second', (rate, requests) => {
    const interval = paceIntervalMs(rate);
    let stored: number | undefined;
    let now = 1_000_000;
    const calls: number[] = [];
    for (const r of requests) {
      now += r.gap;
      const { slotMs, nextMs } = reserveSlot(stored, now, interval);
      stored = nextMs;
      expect(slotMs).toBeGreaterThanOrEqual(now);
      calls.push(slotMs + r.late);
    }
    expect(maxPerWindow(calls)).toBeLessThanOrEqual(rate);
  });

  test.prop([fc.integer({ min: 1, max: 20 }), fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 80 })], { numRuns: runs })(
    "the process's call log admits at most `rate` starts in any second plus the margin, however the calls bunch up",
    async (rate, gaps) => {
      let now = 0;
      const window = new CallWindow(rate, () => now, async (ms) => {
        now += ms;
      });
      const starts: number[] = [];
      for (const gap of gaps) {
        now += gap;
        await window.admit('pn');
        starts.push(now);
      }
      expect(maxPerWindow(starts)).toBeLessThanOrEqual(rate);
      // Calls `rate` apart are at least a second and the margin apart: arrival jitter below it cannot add a call.
      expect(maxPerWindow(starts, 1000 + PACE_MARGIN_MS)).toBeLessThanOrEqual(rate);
    },
  );

  it('counts the busiest one-second window, half open', () => {
    expect(maxPerWindow([])).toBe(0);
    expect(maxPerWindow([0, 999, 1000, 1500])).toBe(3);
    expect(maxPerWindow([0, 1000, 2000])).toBe(1);
  });
});
