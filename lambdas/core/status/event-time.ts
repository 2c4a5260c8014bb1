/**
 * Event times in webhooks: one rule for every place that reads one.
 *
 * Meta stamps `entry.time` in Unix seconds (a number or a numeric string); values above 10^12 are read as
 * milliseconds. A time decides a client's status only when it is
 * - representable: a safe integer, on or after {@link EARLIEST_EVENT_TIME_MS} (2010-01-01, before WhatsApp Business
 *   existed) and within what `Date` can show, and
 * - not in the future: at most `DEFAULTS.maxEventFutureSkewSeconds` after the relay received it.
 * Anything else is recorded and forwarded as unreadable, never applied: one far-future event would otherwise stay the
 * latest of its class for good.
 */

/** 2010-01-01T00:00:00Z: no WhatsApp Business event is older. */
export const EARLIEST_EVENT_TIME_MS = 1_262_304_000_000;
/** The largest time `Date` represents (year 275760). */
const LATEST_DATE_MS = 8.64e15;
/** Values above this are milliseconds, at or below it seconds. */
const MS_THRESHOLD = 1e12;

export type EventTimeProblem = 'event-time-invalid' | 'event-time-in-future';

export type EventTime =
  | { readonly ok: true; readonly ms: number }
  | { readonly ok: false; readonly problem: EventTimeProblem; readonly detail: string; readonly ms: number | null };

const INTEGER = /^\s*-?\d{1,20}\s*$/;

/** The raw time shown in problems and timeline details: bounded, whatever was sent. */
export const describeRawTime = (raw: unknown): string => {
  let s: string;
  if (typeof raw === 'string') s = JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}...` : raw);
  else if (typeof raw === 'number' || typeof raw === 'boolean' || raw === null) s = String(raw);
  else if (raw === undefined) s = 'missing';
  else s = Array.isArray(raw) ? 'an array' : `a ${typeof raw}`;
  return s;
};

/**
 * The time in ms when it is representable (see the module comment), else null. Does not depend on the clock, so a
 * redelivery reads the same value.
 */
export const representableTimeMs = (raw: unknown): number | null => {
  let t: number;
  if (typeof raw === 'number') t = raw;
  else if (typeof raw === 'string' && INTEGER.test(raw)) t = Number(raw);
  else return null;
  if (!Number.isSafeInteger(t)) return null;
  const ms = t > MS_THRESHOLD ? t : t * 1000;
  return ms >= EARLIEST_EVENT_TIME_MS && ms <= LATEST_DATE_MS ? ms : null;
};

/** Applies the whole rule: representable and at most `maxFutureSkewMs` after `receivedAtMs`. */
export const readEventTime = (raw: unknown, receivedAtMs: number, maxFutureSkewMs: number): EventTime => {
  const ms = representableTimeMs(raw);
  if (ms === null) {
    return {
      ok: false,
      problem: 'event-time-invalid',
      detail: `time ${describeRawTime(raw)} is not Unix seconds (or ms) between 2010 and the year 275760`,
      ms: null,
    };
  }
  if (ms > receivedAtMs + maxFutureSkewMs) {
    return {
      ok: false,
      problem: 'event-time-in-future',
      detail: `time ${describeRawTime(raw)} is ${Math.round((ms - receivedAtMs) / 1000)} s after the relay received it (at most ${Math.round(maxFutureSkewMs / 1000)} s allowed)`,
      ms,
    };
  }
  return { ok: true, ms };
};

/** ISO-8601 for a stored time, or null when the stored value is not a time `Date` can show (never throws). */
export const safeIso = (ms: unknown): string | null => {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || Math.abs(ms) > LATEST_DATE_MS) return null;
  return new Date(ms).toISOString();
};
