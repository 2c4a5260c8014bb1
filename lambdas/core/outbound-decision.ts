/**
 * The whole send / park / dead-letter decision for one outbound message, in two steps, both pure:
 * - `decide`, before the send, from the client's status and the message's own park state;
 * - `decideAfterSend`, after the Cloud API answered, from the classified verdict (`cloud-api-result.ts`).
 * `OutboundService` only carries out what these return.
 */
import type { ClientStatus } from './client-status.js';
import type { SendVerdict } from './cloud-api-result.js';
import type { OutboundEnvelope } from './envelope.js';
import { type ClientGate, isTemplate, RESTRICTION_TYPES, type RestrictionsInForce } from './client-health.js';
import { MAX_SQS_DELAY_SECONDS, parkDelay, retryDelay } from './park-schedule.js';
import type { PhoneOwner } from './ports.js';

/** SQS message attributes that carry a message's own park state across re-sends (SQS resets its counters). */
export const PARK_ATTRIBUTES = {
  parkCount: 'relay-park-count',
  firstParkedAt: 'relay-first-parked-at',
  sendAttempts: 'relay-send-attempts',
  /** When upstream first enqueued the message (epoch ms, the outbound queue's SentTimestamp): the release order. */
  firstEnqueuedAt: 'relay-first-enqueued-at',
} as const;

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
] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

export type Decision =
  | { readonly action: 'send' }
  | { readonly action: 'park'; readonly delaySeconds: number; readonly next: ParkState }
  | { readonly action: 'dead-letter'; readonly reason: DeadLetterReason; readonly detail: string };

/** What to do once the Cloud API answered. `retry` goes back through the delay queue with backoff, not as a park. */
export type AfterSendDecision =
  | { readonly action: 'sent' }
  | { readonly action: 'park'; readonly delaySeconds: number; readonly next: ParkState }
  | { readonly action: 'retry'; readonly delaySeconds: number; readonly next: ParkState }
  /** `state` is the park state the dead-letter body reports (it counts the attempt that just failed). */
  | { readonly action: 'dead-letter'; readonly reason: DeadLetterReason; readonly detail: string; readonly state: ParkState };

export interface DecisionPolicy {
  readonly parkDelaySchedule: readonly number[];
  readonly maxParkSeconds: number;
  readonly random?: () => number;
}

export interface AfterSendPolicy extends DecisionPolicy {
  /** Retryable failures before the message is dead-lettered `rejected-by-cloud-api`. */
  readonly maxSendAttempts: number;
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
export const parkDecision = (
  state: ParkState,
  nowMs: number,
  policy: DecisionPolicy,
): { readonly action: 'park'; readonly delaySeconds: number; readonly next: ParkState } => ({
  action: 'park',
  delaySeconds: parkDelay(policy.parkDelaySchedule, state.parkCount, policy.random),
  next: {
    ...state,
    parkCount: state.parkCount + 1,
    firstParkedAt: state.firstParkedAt ?? new Date(nowMs).toISOString(),
  },
});

const timeText = (ms: number): string => (Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms));

/** Why the envelope's phone number may not be used for its WABA, or null when it may (or nobody knows). */
export const phoneMismatch = (envelope: OutboundEnvelope, owner: PhoneOwner | undefined): string | null =>
  owner !== undefined && owner.wabaId !== envelope.wabaId
    ? `phone number ${envelope.phoneNumberId} belongs to WABA ${owner.wabaId} (learnt from a ${owner.learnedFrom} at ${timeText(owner.learnedAt)}), not ${envelope.wabaId}`
    : null;

/**
 * The send / park / dead-letter decision for one message, from the client's status and the known owner of its phone
 * number. Pure. A phone number of another WABA comes first (such a message may never be sent, however long it
 * waits), then expiry (a message past its deadline is never sent), then the client's status.
 */
export const decide = (
  status: ClientStatus,
  envelope: OutboundEnvelope,
  state: ParkState,
  nowMs: number,
  policy: DecisionPolicy,
  phoneOwner?: PhoneOwner,
  /** A release is draining the client's parked messages: a message for a connected client waits behind them. */
  behindRelease = false,
): Decision => {
  const mismatch = phoneMismatch(envelope, phoneOwner);
  if (mismatch) return { action: 'dead-letter', reason: 'phone-number-mismatch', detail: mismatch };
  const expired = expiry(envelope, state, nowMs, policy.maxParkSeconds);
  if (expired) return { action: 'dead-letter', reason: 'expired', detail: expired };
  const terminal = TERMINAL[status];
  if (terminal) return { action: 'dead-letter', reason: terminal, detail: `client ${envelope.wabaId} is ${status}` };
  if (status === 'OFFBOARDED' || behindRelease) return parkDecision(state, nowMs, policy);
  return { action: 'send' };
};

/** What the Cloud API's answer means for the message, whoever sent it (the consumer, or a release). */
export type SendAnswerRule =
  | { readonly action: 'sent' }
  /** The number looks disconnected: the consumer parks the message, a release stops (the rest stays parked). */
  | { readonly action: 'not-connected' }
  /** Try again after `delaySeconds`; `rateLimit` says the number or recipient was busy (no attempt counted). */
  | { readonly action: 'retry'; readonly delaySeconds: number; readonly next: ParkState; readonly rateLimit?: 'throughput' | 'pair-rate' }
  /** `state` is the park state the dead-letter body reports (it counts the attempt that just failed). */
  | { readonly action: 'dead-letter'; readonly reason: DeadLetterReason; readonly detail: string; readonly state: ParkState };

export type RetryPolicy = Pick<AfterSendPolicy, 'maxParkSeconds' | 'maxSendAttempts' | 'random'>;

/**
 * The rule after the Cloud API answered, the one place for it. Pure.
 * - sent: done;
 * - park verdict (the number looks disconnected): `not-connected`, unless the message expired;
 * - reject: dead-letter `rejected-by-cloud-api` (`window-closed` for 131047);
 * - 130429 / 131056: retry with backoff 4^hits seconds (at least the verdict's minimum), never counted as an attempt;
 *   the wait counts from the first deferral, so MAX_PARK_SECONDS still ends it;
 * - other retryable answers: count the attempt; at `maxSendAttempts` dead-letter `rejected-by-cloud-api`, else (unless
 *   expired) back off 4^attempt seconds.
 */
export const ruleAfterSend = (verdict: SendVerdict, envelope: OutboundEnvelope, state: ParkState, nowMs: number, policy: RetryPolicy): SendAnswerRule => {
  if (verdict.verdict === 'sent') return { action: 'sent' };
  if (verdict.verdict === 'reject') {
    return { action: 'dead-letter', reason: verdict.windowClosed ? 'window-closed' : 'rejected-by-cloud-api', detail: verdict.why, state };
  }
  if (verdict.verdict === 'park') {
    const expired = expiry(envelope, state, nowMs, policy.maxParkSeconds);
    if (expired) return { action: 'dead-letter', reason: 'expired', detail: expired, state };
    return { action: 'not-connected' };
  }
  if (verdict.rateLimit) {
    const hits = state.rateLimitHits ?? 0;
    const deferred: ParkState = { ...state, firstParkedAt: state.firstParkedAt ?? new Date(nowMs).toISOString(), rateLimitHits: hits + 1 };
    const expired = expiry(envelope, deferred, nowMs, policy.maxParkSeconds);
    if (expired) return { action: 'dead-letter', reason: 'expired', detail: expired, state: deferred };
    const delaySeconds = retryDelay(Math.max(1, hits), verdict.minDelaySeconds, policy.random);
    return { action: 'retry', delaySeconds, next: deferred, rateLimit: verdict.rateLimit };
  }
  const attempts = state.sendAttempts + 1;
  if (attempts >= policy.maxSendAttempts) {
    const detail = `gave up after ${attempts} attempts; last: ${verdict.why}`;
    return { action: 'dead-letter', reason: 'rejected-by-cloud-api', detail, state: { ...state, sendAttempts: attempts } };
  }
  const expired = expiry(envelope, state, nowMs, policy.maxParkSeconds);
  if (expired) return { action: 'dead-letter', reason: 'expired', detail: expired, state };
  return { action: 'retry', delaySeconds: retryDelay(attempts - 1, verdict.minDelaySeconds, policy.random), next: { ...state, sendAttempts: attempts } };
};

/** The consumer's decision after the Cloud API answered: the rule, with `not-connected` parked on the schedule. Pure. */
export const decideAfterSend = (
  verdict: SendVerdict,
  envelope: OutboundEnvelope,
  state: ParkState,
  nowMs: number,
  policy: AfterSendPolicy,
): AfterSendDecision => {
  const rule = ruleAfterSend(verdict, envelope, state, nowMs, policy);
  if (rule.action === 'not-connected') return parkDecision(state, nowMs, policy);
  if (rule.action === 'retry') return { action: 'retry', delaySeconds: rule.delaySeconds, next: rule.next };
  return rule;
};

/** Why a message for a connected client waits anyway: the relay's hold, or a restriction Meta reported. */
export type WaitCause = 'held' | 'restricted';

/**
 * A restriction in force for this kind of message: park until it expires (at most 900 s per hop), or dead-letter
 * `expired` at once when it ends after the message's own deadline. Null when no restriction applies.
 */
export const restrictionDecision = (
  restrictions: RestrictionsInForce,
  envelope: OutboundEnvelope,
  state: ParkState,
  nowMs: number,
  policy: DecisionPolicy,
): Decision | null => {
  const template = isTemplate(envelope.payload);
  const until = template ? restrictions.templatesUntilMs : restrictions.nonTemplatesUntilMs;
  if (until === null) return null;
  const kind = template ? RESTRICTION_TYPES.bizInitiated : RESTRICTION_TYPES.customerInitiated;
  // No usable expiration: wait on the park schedule (MAX_PARK_SECONDS still bounds it).
  if (!Number.isFinite(until)) return parkDecision(state, nowMs, policy);
  const firstMs = state.firstParkedAt === null ? nowMs : Date.parse(state.firstParkedAt);
  const deadlines = [firstMs + policy.maxParkSeconds * 1000];
  if (envelope.notAfter !== undefined) deadlines.push(Date.parse(envelope.notAfter));
  const deadline = Math.min(...deadlines);
  if (until > deadline) {
    return {
      action: 'dead-letter',
      reason: 'expired',
      detail: `${kind} in force until ${new Date(until).toISOString()}, after the message's deadline ${new Date(deadline).toISOString()}`,
    };
  }
  const park = parkDecision(state, nowMs, policy);
  // Wake just after the expiration (SQS caps one hop at 900 s; a longer restriction takes several hops).
  return { ...park, delaySeconds: Math.min(MAX_SQS_DELAY_SECONDS, Math.max(1, Math.ceil((until - nowMs) / 1000) + 1)) };
};

/**
 * The decision from everything known about the client: its status (as the gate reads it), then the relay's hold,
 * then restrictions. Pure; table-tested.
 */
export const decideFor = (
  gate: Pick<ClientGate, 'status' | 'hold' | 'restrictions'>,
  envelope: OutboundEnvelope,
  state: ParkState,
  nowMs: number,
  policy: DecisionPolicy,
  phoneOwner?: PhoneOwner,
  /** A release is draining the client's parked messages: wait behind them (see `decide`). */
  behindRelease = false,
): Decision & { readonly cause?: WaitCause } => {
  const d = decide(gate.status, envelope, state, nowMs, policy, phoneOwner, behindRelease);
  if (d.action !== 'send') return d;
  if (gate.hold.state === 'in-force') return { ...parkDecision(state, nowMs, policy), cause: 'held' };
  const r = restrictionDecision(gate.restrictions, envelope, state, nowMs, policy);
  return r ? { ...r, cause: 'restricted' } : d;
};
