/**
 * The send policy: every decision about one outbound message, pure, in two questions that both executors (the
 * consumer's SQS batch and the release's recipient lanes) ask and nothing else answers.
 *
 * - `gate`: may this message be sent now? From what is known of the client (status as the stage reads it, the relay's
 *   hold, Meta's restrictions, the phone number's owner, a release draining ahead of it), the message and the clock:
 *   send, park (why, for how long, whether the whole client or only this kind of message waits), or dead-letter.
 * - `afterAnswer`: what the Cloud API's answer means: sent, retry after a backoff, hold the client (the number looks
 *   disconnected, or the token was refused), dead-letter with a reason, or send the envelope's fallback instead.
 *
 * The consumer carries a decision out with the delay queue; the release with its lanes (a client-wide park halts the
 * run, a message-kind park waits that recipient's lane, a retry waits the lane or the phone number). The contract
 * suite (test/integration/send-policy-contract.test.ts) checks that both end in the same place for every input.
 */
import { type ClientGate, isTemplate, RESTRICTION_TYPES } from '../health/client-health.js';
import type { ClientStatus } from '../status/client-status.js';
import type { SendVerdict } from './cloud-api-result.js';
import type { OutboundEnvelope } from './envelope.js';
import { isFallbackId } from '../outcomes/message-outcome.js';
import {
  type AfterSendPolicy,
  type DeadLetterReason,
  type DecisionPolicy,
  expiry,
  type ParkState,
  type ParkStep,
  parkStep,
} from './outbound-decision.js';
import { MAX_SQS_DELAY_SECONDS, retryDelay } from './park-schedule.js';
import type { PhoneOwner } from './ports.js';

/** What the executors know about a message's client when they ask the gate (read once per batch or status check). */
export interface SendFacts {
  /** The client's status (as the stage reads it: a can-send probe may end an offboarding), hold and restrictions. */
  readonly client: Pick<ClientGate, 'status' | 'hold' | 'restrictions'>;
  /** The known owner of the envelope's phone number (absent: nobody has named it yet). */
  readonly phoneOwner?: PhoneOwner | undefined;
  /** A release is draining the client's parked messages: a new message waits behind them (consumer only). */
  readonly behindRelease?: boolean;
  /** When the business owner last wrote to this message's customer from the app (an echo), epoch ms, if ever. */
  readonly humanRepliedAtMs?: number | undefined;
}

/** Why a message waits. */
export const PARK_CAUSES = ['offboarded', 'held', 'restricted', 'behind-release', 'human-replied'] as const;
export type ParkCause = (typeof PARK_CAUSES)[number];

export type GateDecision =
  | { readonly action: 'send' }
  | (ParkStep & {
      readonly action: 'park';
      readonly cause: ParkCause;
      /** `client`: every message of the client waits; `message`: only messages of this kind (a restriction). */
      readonly scope: 'client' | 'message';
      /** When the wait is known to end (a restriction's expiration), else null. */
      readonly untilMs: number | null;
    })
  | { readonly action: 'dead-letter'; readonly reason: DeadLetterReason; readonly detail: string };

const TERMINAL: Partial<Record<ClientStatus, DeadLetterReason>> = {
  REMOVED: 'client-removed',
  DELETED: 'client-deleted',
  DISABLED: 'client-disabled',
};

const timeText = (ms: number): string => (Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms));

/** Why the envelope's phone number may not be used for its WABA, or null when it may (or nobody knows). */
const phoneMismatch = (envelope: OutboundEnvelope, owner: PhoneOwner | undefined): string | null =>
  owner !== undefined && owner.wabaId !== envelope.wabaId
    ? `phone number ${envelope.phoneNumberId} belongs to WABA ${owner.wabaId} (learnt from a ${owner.learnedFrom} at ${timeText(owner.learnedAt)}), not ${envelope.wabaId}`
    : null;

const park = (cause: ParkCause, state: ParkState, nowMs: number, policy: DecisionPolicy): GateDecision => ({
  action: 'park',
  cause,
  scope: 'client',
  untilMs: null,
  ...parkStep(state, nowMs, policy),
});

/**
 * May the message be sent now? In this order: a phone number of another WABA (never sendable, however long it waits),
 * expiry (a message past its deadline is never sent), the client's status (terminal: dead-letter; offboarded: park),
 * a release draining ahead of it, the relay's hold, a restriction on this kind of message, then, for an automated
 * message, a human answering its customer from the app.
 */
export const gate = (facts: SendFacts, envelope: OutboundEnvelope, state: ParkState, nowMs: number, policy: DecisionPolicy): GateDecision => {
  const mismatch = phoneMismatch(envelope, facts.phoneOwner);
  if (mismatch) return { action: 'dead-letter', reason: 'phone-number-mismatch', detail: mismatch };
  const expired = expiry(envelope, state, nowMs, policy.maxParkSeconds);
  if (expired) return { action: 'dead-letter', reason: 'expired', detail: expired };
  const { status, hold, restrictions } = facts.client;
  const terminal = TERMINAL[status];
  if (terminal) return { action: 'dead-letter', reason: terminal, detail: `client ${envelope.wabaId} is ${status}` };
  if (status === 'OFFBOARDED') return park('offboarded', state, nowMs, policy);
  if (facts.behindRelease) return park('behind-release', state, nowMs, policy);
  if (hold.state === 'in-force') return park('held', state, nowMs, policy);
  const template = isTemplate(envelope.payload);
  const until = template ? restrictions.templatesUntilMs : restrictions.nonTemplatesUntilMs;
  if (until === null) return humanGate(facts, envelope, state, nowMs, policy);
  const step = parkStep(state, nowMs, policy);
  // No usable expiration: wait on the park schedule (MAX_PARK_SECONDS still bounds it).
  if (!Number.isFinite(until)) return { action: 'park', cause: 'restricted', scope: 'message', untilMs: null, ...step };
  const firstMs = state.firstParkedAt === null ? nowMs : Date.parse(state.firstParkedAt);
  const deadline = Math.min(firstMs + policy.maxParkSeconds * 1000, envelope.notAfter === undefined ? Number.POSITIVE_INFINITY : Date.parse(envelope.notAfter));
  if (until > deadline) {
    const kind = template ? RESTRICTION_TYPES.bizInitiated : RESTRICTION_TYPES.customerInitiated;
    const detail = `${kind} in force until ${new Date(until).toISOString()}, after the message's deadline ${new Date(deadline).toISOString()}`;
    return { action: 'dead-letter', reason: 'expired', detail };
  }
  // Wake just after the expiration (SQS caps one hop at 900 s; a longer restriction takes several hops).
  const delaySeconds = Math.min(MAX_SQS_DELAY_SECONDS, Math.max(1, Math.ceil((until - nowMs) / 1000) + 1));
  return { action: 'park', cause: 'restricted', scope: 'message', untilMs: until, delaySeconds, next: step.next };
};

/**
 * Automation yields to a human: an envelope marked `automated` waits while the business owner is answering its customer
 * from the WhatsApp Business app, until HUMAN_REPLY_HOLD_SECONDS after their last reply; then it goes as usual (or is
 * dead-lettered `expired` at once when that is after its deadline). Envelopes without the mark never wait.
 */
const humanGate = (facts: SendFacts, envelope: OutboundEnvelope, state: ParkState, nowMs: number, policy: DecisionPolicy): GateDecision => {
  const holdMs = (policy.humanReplyHoldSeconds ?? 0) * 1000;
  if (envelope.automated !== true || holdMs <= 0 || facts.humanRepliedAtMs === undefined) return { action: 'send' };
  const until = facts.humanRepliedAtMs + holdMs;
  if (until <= nowMs) return { action: 'send' };
  const step = parkStep(state, nowMs, policy);
  if (envelope.notAfter !== undefined && Date.parse(envelope.notAfter) < until) {
    return { action: 'dead-letter', reason: 'expired', detail: `the owner answered this customer at ${new Date(facts.humanRepliedAtMs).toISOString()}; automation waits until ${new Date(until).toISOString()}, after notAfter ${envelope.notAfter}` };
  }
  const delaySeconds = Math.min(MAX_SQS_DELAY_SECONDS, Math.max(1, Math.ceil((until - nowMs) / 1000) + 1));
  return { action: 'park', cause: 'human-replied', scope: 'message', untilMs: until, delaySeconds, next: step.next };
};

/** Why the relay holds a client: its number looks disconnected, or its token was refused. */
export const HOLD_REASONS = ['not-connected', 'token-invalid'] as const;
export type HoldReason = (typeof HOLD_REASONS)[number];

/** What an answer of the Cloud API means for the message, whoever sent it. */
export type AnswerAction =
  | { readonly action: 'sent' }
  /** 131047 and the envelope has a fallback: send it in the message's place (as `<messageId>:fallback`). */
  | { readonly action: 'send-fallback' }
  /**
   * The client cannot send (number disconnected, token refused): hold it; this message parks on the schedule (the
   * consumer) or stays parked (a release halts).
   */
  | (ParkStep & { readonly action: 'hold'; readonly reason: HoldReason })
  /** Try again after `delaySeconds`; `rateLimit` says the number or recipient was busy (no attempt counted). */
  | (ParkStep & { readonly action: 'retry'; readonly rateLimit?: 'throughput' | 'pair-rate' })
  /** `state` is the park state the dead-letter body reports (it counts the attempt that just failed). */
  | { readonly action: 'dead-letter'; readonly reason: DeadLetterReason; readonly detail: string; readonly state: ParkState };

/**
 * The rule after the Cloud API answered. Pure.
 * - sent: done;
 * - 131047: the fallback when the envelope has one (and is not itself a fallback), else dead-letter `window-closed`;
 * - 131062 (the type of message cannot go to a BSUID): dead-letter `recipient-type-not-supported`;
 * - other permanent refusals: dead-letter `rejected-by-cloud-api`;
 * - not connected / token refused: hold the client, unless the message expired;
 * - 130429 / 131056: retry with backoff 4^hits seconds (at least the verdict's minimum), never counted as an attempt;
 *   the wait counts from the first deferral, so MAX_PARK_SECONDS still ends it;
 * - other retryable answers: count the attempt; at `maxSendAttempts` dead-letter `rejected-by-cloud-api`, else (unless
 *   expired) back off 4^attempt seconds.
 */
export const afterAnswer = (verdict: SendVerdict, envelope: OutboundEnvelope, state: ParkState, nowMs: number, policy: AfterSendPolicy): AnswerAction => {
  if (verdict.verdict === 'sent') return { action: 'sent' };
  if (verdict.verdict === 'reject') {
    if (verdict.windowClosed && envelope.fallback !== undefined && !isFallbackId(envelope.messageId)) return { action: 'send-fallback' };
    const reason = verdict.windowClosed ? 'window-closed' : verdict.recipientTypeNotSupported ? 'recipient-type-not-supported' : 'rejected-by-cloud-api';
    return { action: 'dead-letter', reason, detail: verdict.why, state };
  }
  if (verdict.verdict === 'park' || verdict.verdict === 'token-invalid') {
    const expired = expiry(envelope, state, nowMs, policy.maxParkSeconds);
    if (expired) return { action: 'dead-letter', reason: 'expired', detail: expired, state };
    return { action: 'hold', reason: verdict.verdict === 'park' ? 'not-connected' : 'token-invalid', ...parkStep(state, nowMs, policy) };
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
