/**
 * The park schedule on a virtual clock. Kept beside the real runs (bench/release-bench.ts) for what they cannot show
 * in minutes: how long a parked message waits when its release is lost and only the delay loop resumes it, over a mix
 * of reconnection times from seconds to hours, and what that loop costs over the same mix. Resume latency with
 * releases, and the requests of one real hop, come from the real runs.
 */
import { parkDelay, parseDelaySchedule } from '../lambdas/core/outbound/park-schedule.js';
import { DEFAULTS } from '../lambdas/core/shared/defaults.js';
import { percentile, seeded } from './measure.js';

/**
 * The reconnection-time mix (seconds from a message's first park to ACCOUNT_RECONNECTED): reonboarding "typically
 * completes within a few minutes", sometimes takes hours.
 *   60% uniform 0-3 min, 25% uniform 3-10 min, 10% uniform 10-60 min, 5% uniform 1-6 h.
 */
const RECONNECT_MIX = [
  { share: 0.6, from: 0, to: 180 },
  { share: 0.25, from: 180, to: 600 },
  { share: 0.1, from: 600, to: 3600 },
  { share: 0.05, from: 3600, to: 21_600 },
] as const;

const drawReconnect = (random: () => number): number => {
  let u = random();
  for (const band of RECONNECT_MIX) {
    if (u < band.share) return band.from + (band.to - band.from) * random();
    u -= band.share;
  }
  return RECONNECT_MIX[RECONNECT_MIX.length - 1]!.to;
};

export interface ScheduleResult {
  readonly schedule: string;
  readonly samples: number;
  readonly p50ResumeSeconds: number;
  readonly p99ResumeSeconds: number;
  readonly meanHops: number;
  readonly sqsRequestsPerParkedMessageHour: number;
}

/**
 * Simulates parking on a virtual clock: no sleeping, deterministic jitter. `requestsPerHop` is what one check costs
 * (counted through the real consumer by `parkHourBench`: 3 for a message alone in its batch).
 */
export const simulateSchedule = (scheduleText: string, samples: number, requestsPerHop = 3, seed = 42): ScheduleResult => {
  const schedule = parseDelaySchedule(scheduleText);
  const random = seeded(seed);
  const latencies: number[] = [];
  let hops = 0;
  let parkedSeconds = 0;
  for (let i = 0; i < samples; i++) {
    const reconnectAt = drawReconnect(random);
    let t = 0;
    let hop = 0;
    // Each hop: wait the delay, then the consumer checks the status; sent at the first check after reconnection.
    while (t < reconnectAt) {
      t += parkDelay(schedule, hop, random);
      hop++;
    }
    latencies.push(t - reconnectAt);
    hops += hop;
    parkedSeconds += t;
  }
  return {
    schedule: scheduleText,
    samples,
    p50ResumeSeconds: Math.round(percentile(latencies, 50)),
    p99ResumeSeconds: Math.round(percentile(latencies, 99)),
    meanHops: Math.round((hops / samples) * 10) / 10,
    sqsRequestsPerParkedMessageHour: Math.round(((hops * requestsPerHop) / (parkedSeconds / 3600)) * 10) / 10,
  };
};

/** The default schedule beside the earlier short-hop one. */
export const scheduleBench = (samples: number, requestsPerHop: number): ScheduleResult[] => [
  simulateSchedule(DEFAULTS.parkDelaySchedule, samples, requestsPerHop),
  simulateSchedule(EARLIER_DEFAULT_SCHEDULE, samples, requestsPerHop),
];

/** The default before releases existed: short hops, so the loop alone resumed within about a minute (p50). */
const EARLIER_DEFAULT_SCHEDULE = '10,20,30,60,120,240,480,900';
