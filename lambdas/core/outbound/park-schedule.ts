import { ConfigError } from '../shared/errors.js';

/** SQS's maximum per-message delay on a standard queue. */
export const MAX_SQS_DELAY_SECONDS = 900;

/** Share of each delay randomised, so messages parked together do not all wake at the same second. */
const PARK_JITTER = 0.2;

export class InvalidScheduleError extends ConfigError {
  override readonly name = 'InvalidScheduleError';
}

/** Parses `PARK_DELAY_SCHEDULE`: comma-separated whole seconds from 0 to 900; the last value repeats. */
export const parseDelaySchedule = (text: string): readonly number[] => {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) {
    throw new InvalidScheduleError(`PARK_DELAY_SCHEDULE "${text}" must be comma-separated seconds, e.g. "10,60,900"`);
  }
  return parts.map((p) => {
    const n = Number(p);
    if (!/^\d+$/.test(p) || n > MAX_SQS_DELAY_SECONDS) {
      throw new InvalidScheduleError(`PARK_DELAY_SCHEDULE value "${p}" must be a whole number of seconds from 0 to 900`);
    }
    return n;
  });
};

/** The delay before the `hop`-th check (0-based), before jitter. */
export const scheduledDelay = (schedule: readonly number[], hop: number): number =>
  schedule[Math.min(Math.max(0, hop), schedule.length - 1)] ?? MAX_SQS_DELAY_SECONDS;

/** `base` +/- PARK_JITTER, rounded to whole seconds and clamped to [floor, 900]. */
const jitter = (base: number, floor: number, random: () => number): number =>
  Math.min(MAX_SQS_DELAY_SECONDS, Math.max(floor, Math.round(base * (1 - PARK_JITTER + 2 * PARK_JITTER * random()))));

/**
 * The delay for a hop with +/- `PARK_JITTER` applied, clamped to SQS's range.
 * `random` is injected so tests and simulations are deterministic.
 */
export const parkDelay = (schedule: readonly number[], hop: number, random: () => number = Math.random): number =>
  jitter(scheduledDelay(schedule, hop), 0, random);

/**
 * Backoff for retryable Cloud API errors: 4^attempt seconds (the pair-rate-limit advice), at least `minimum`,
 * at most 900, with jitter.
 */
export const retryDelay = (attempt: number, minimum = 1, random: () => number = Math.random): number =>
  jitter(Math.max(minimum, 4 ** Math.max(0, attempt)), 1, random);
