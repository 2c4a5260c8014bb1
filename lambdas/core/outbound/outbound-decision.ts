/**
 * A message's own park state (what it carries across delay-queue hops and parked copies), the dead-letter reasons, and
 * the two rules every decision shares: when a message has expired, and its next park hop. The decisions themselves
 * are in `send-policy.ts`.
 */
import type { OutboundEnvelope } from './envelope.js';
import { parkDelay } from './park-schedule.js';

/** SQS message attributes that carry a message's own park state across re-sends (SQS resets its counters). */
export const PARK_ATTRIBUTES = {
  parkCount: 'relay-park-count',
  firstParkedAt: 'relay-first-parked-at',
  sendAttempts: 'relay-send-attempts',
  /** When upstream first enqueued the message (epoch ms, the outbound queue's SentTimestamp): the release order. */
  firstEnqueuedAt: 'relay-first-enqueued-at',
  /** Set once the message's parked copy was written: a message that parks again after a retry writes one if absent. */
  parkedCopy: 'relay-parked-copy',
} as const;

/**
 * On an outbound-queue message: the `deadLetteredAt` of the dead letter it was redriven from (`dead-letters redrive`
 * sets it). Its send claim may then reopen that dead letter's DEAD_LETTERED entry, and only that one.
 */
export const REDRIVE_ATTRIBUTE = 'relay-redrive-of';

export interface ParkState {
  /** How many times the message was parked so far. */
  readonly parkCount: number;
  /** When it was first parked or deferred (ISO-8601), or null for a fresh message. */
  readonly firstParkedAt: string | null;
  /** Failed, retryable Cloud API attempts so far. */
  readonly sendAttempts: number;
  /** When upstream first enqueued the message (epoch ms); null until the message was re-queued once. */
  readonly firstEnqueuedMs?: number | null;
  /**
   * Rate-limit answers (130429, 131056) so far: they lengthen the backoff but never count as attempts. Kept by the
   * parked copy; the delay-queue path does not carry it (each of its retries backs off from the first step).
   */
  readonly rateLimitHits?: number;
  /** True once the message's parked copy was written (the release can find it). */
  readonly parkedCopy?: boolean;
}

export const FRESH: ParkState = { parkCount: 0, firstParkedAt: null, sendAttempts: 0 };

const count = (v: string | undefined): number => {
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 && n < 1_000_000 ? n : 0;
};

/**
 * The park state a delay-queue message carries. A first-parked time that is not a time, or lies in the future (it
 * would never reach MAX_PARK_SECONDS), counts as now: every message's wait stays bounded.
 */
export const readParkState = (attributes: Readonly<Record<string, string | undefined>>, nowMs: number): ParkState => {
  const first = attributes[PARK_ATTRIBUTES.firstParkedAt];
  const firstMs = first === undefined ? Number.NaN : Date.parse(first);
  return {
    parkCount: count(attributes[PARK_ATTRIBUTES.parkCount]),
    firstParkedAt: Number.isNaN(firstMs) ? null : firstMs > nowMs ? new Date(nowMs).toISOString() : (first as string),
    sendAttempts: count(attributes[PARK_ATTRIBUTES.sendAttempts]),
    ...(attributes[PARK_ATTRIBUTES.parkedCopy] === '1' ? { parkedCopy: true } : {}),
    ...withFirstEnqueued(epochMs(attributes[PARK_ATTRIBUTES.firstEnqueuedAt])),
  };
};

const withFirstEnqueued = (ms: number | null): { firstEnqueuedMs?: number } => (ms === null ? {} : { firstEnqueuedMs: ms });

/** An epoch-ms attribute (SentTimestamp, relay-first-enqueued-at), or null when absent or not a plausible time. */
export const epochMs = (v: string | undefined): number | null => {
  if (v === undefined || !/^\d{1,15}$/.test(v)) return null;
  const n = Number(v);
  return n > 0 ? n : null;
};

export const parkAttributes = (s: ParkState): Record<string, string> => ({
  [PARK_ATTRIBUTES.parkCount]: String(s.parkCount),
  [PARK_ATTRIBUTES.sendAttempts]: String(s.sendAttempts),
  ...(s.firstParkedAt ? { [PARK_ATTRIBUTES.firstParkedAt]: s.firstParkedAt } : {}),
  ...(s.firstEnqueuedMs ? { [PARK_ATTRIBUTES.firstEnqueuedAt]: String(s.firstEnqueuedMs) } : {}),
  ...(s.parkedCopy ? { [PARK_ATTRIBUTES.parkedCopy]: '1' } : {}),
});

export const DEAD_LETTER_REASONS = [
  'expired',
  'client-removed',
  'client-deleted',
  'client-disabled',
  'rejected-by-cloud-api',
  'invalid-envelope',
  'phone-number-mismatch',
  'no-access-token',
  /** 131047 from the Cloud API: the 24-hour window closed, and the envelope had no `fallback`. */
  'window-closed',
  /** 131062 from the Cloud API: this type of message cannot go to a business-scoped user id (`payload.recipient`). */
  'recipient-type-not-supported',
] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

export interface DecisionPolicy {
  readonly parkDelaySchedule: readonly number[];
  readonly maxParkSeconds: number;
  readonly random?: () => number;
  /** How long an automated message waits after the business owner wrote to its customer from the app (0: never). */
  readonly humanReplyHoldSeconds?: number;
}

export interface AfterSendPolicy extends DecisionPolicy {
  /** Retryable failures before the message is dead-lettered `rejected-by-cloud-api`. */
  readonly maxSendAttempts: number;
}

/** Has the message waited too long, or passed its own deadline? Returns why, or null. */
export const expiry = (envelope: OutboundEnvelope, state: ParkState, nowMs: number, maxParkSeconds: number): string | null => {
  if (envelope.notAfter !== undefined && Date.parse(envelope.notAfter) < nowMs) {
    return `notAfter ${envelope.notAfter} has passed`;
  }
  if (state.firstParkedAt !== null) {
    const waited = (nowMs - Date.parse(state.firstParkedAt)) / 1000;
    if (waited > maxParkSeconds) {
      return `held for ${Math.round(waited)} s since ${state.firstParkedAt}, longer than MAX_PARK_SECONDS (${maxParkSeconds})`;
    }
  }
  return null;
};

export type ParkStep = { readonly delaySeconds: number; readonly next: ParkState };

/** Parks a message for its next hop on the schedule. */
export const parkStep = (state: ParkState, nowMs: number, policy: DecisionPolicy): ParkStep => ({
  delaySeconds: parkDelay(policy.parkDelaySchedule, state.parkCount, policy.random),
  next: {
    ...state,
    parkCount: state.parkCount + 1,
    firstParkedAt: state.firstParkedAt ?? new Date(nowMs).toISOString(),
  },
});
