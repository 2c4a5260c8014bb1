import type { ClientStatus } from './client-status.js';
import type { OutboundEnvelope } from './envelope.js';
import { parkDelay } from './park-schedule.js';

/** SQS message attributes that carry a message's own park state across re-sends (SQS resets its counters). */
export const PARK_ATTRIBUTES = {
  parkCount: 'relay-park-count',
  firstParkedAt: 'relay-first-parked-at',
  sendAttempts: 'relay-send-attempts',
} as const;

export interface ParkState {
  /** How many times the message was parked so far. */
  readonly parkCount: number;
  /** When it was first parked or deferred (ISO-8601), or null for a fresh message. */
  readonly firstParkedAt: string | null;
  /** Failed, retryable Cloud API attempts so far. */
  readonly sendAttempts: number;
}

export const FRESH: ParkState = { parkCount: 0, firstParkedAt: null, sendAttempts: 0 };

const count = (v: string | undefined): number => {
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 && n < 1_000_000 ? n : 0;
};

export const readParkState = (attributes: Readonly<Record<string, string | undefined>>): ParkState => {
  const first = attributes[PARK_ATTRIBUTES.firstParkedAt];
  return {
    parkCount: count(attributes[PARK_ATTRIBUTES.parkCount]),
    firstParkedAt: first && !Number.isNaN(Date.parse(first)) ? first : null,
    sendAttempts: count(attributes[PARK_ATTRIBUTES.sendAttempts]),
  };
};

export const parkAttributes = (s: ParkState): Record<string, string> => ({
  [PARK_ATTRIBUTES.parkCount]: String(s.parkCount),
  [PARK_ATTRIBUTES.sendAttempts]: String(s.sendAttempts),
  ...(s.firstParkedAt ? { [PARK_ATTRIBUTES.firstParkedAt]: s.firstParkedAt } : {}),
});

export const DEAD_LETTER_REASONS = [
  'expired',
  'client-removed',
  'client-deleted',
  'client-disabled',
  'rejected-by-cloud-api',
  'invalid-envelope',
] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

export type Decision =
  | { readonly action: 'send' }
  | { readonly action: 'park'; readonly delaySeconds: number; readonly next: ParkState }
  | { readonly action: 'dead-letter'; readonly reason: DeadLetterReason; readonly detail: string };

export interface DecisionPolicy {
  readonly parkDelaySchedule: readonly number[];
  readonly maxParkSeconds: number;
  readonly random?: () => number;
}

const TERMINAL: Partial<Record<ClientStatus, DeadLetterReason>> = {
  REMOVED: 'client-removed',
  DELETED: 'client-deleted',
  DISABLED: 'client-disabled',
};

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

/** Parks a message for its next hop on the schedule. */
export const parkDecision = (state: ParkState, nowMs: number, policy: DecisionPolicy): Decision => ({
  action: 'park',
  delaySeconds: parkDelay(policy.parkDelaySchedule, state.parkCount, policy.random),
  next: {
    ...state,
    parkCount: state.parkCount + 1,
    firstParkedAt: state.firstParkedAt ?? new Date(nowMs).toISOString(),
  },
});

/**
 * The send / park / dead-letter decision for one message, from the client's status. Pure.
 * Expiry comes first (a message past its deadline is never sent), then the client's status.
 */
export const decide = (
  status: ClientStatus,
  envelope: OutboundEnvelope,
  state: ParkState,
  nowMs: number,
  policy: DecisionPolicy,
): Decision => {
  const expired = expiry(envelope, state, nowMs, policy.maxParkSeconds);
  if (expired) return { action: 'dead-letter', reason: 'expired', detail: expired };
  const terminal = TERMINAL[status];
  if (terminal) return { action: 'dead-letter', reason: terminal, detail: `client ${envelope.wabaId} is ${status}` };
  if (status === 'OFFBOARDED') return parkDecision(state, nowMs, policy);
  return { action: 'send' };
};
