import { classifyCloudApiResult, type CloudApiResult } from './cloud-api-result.js';
import type { OutboundEnvelope } from './envelope.js';
import type { RelayEvent } from '../outcomes/relay-events.js';
import type { CloudApi, TokenProvider } from './ports.js';
import type { MessageOutcomeStore, RelayEventPublisher } from '../outcomes/ports.js';
import type { Telemetry } from '../shared/telemetry.js';
import type { FinalState, MessageKey, SendLedger } from './send-ledger.js';
import { fallbackIdOf, isFallbackId, type OutcomeEntry, outcomeEvent, WINDOW_CLOSED, withCallbackData } from '../outcomes/message-outcome.js';
import { type AfterSendPolicy, FRESH, type ParkState } from './outbound-decision.js';
import { type AnswerAction, afterAnswer, type GateDecision } from './send-policy.js';

/** A send claim this step kept for its caller: the message is to be dead-lettered, then settled with {@link settleDeadLetter}. */
export interface HeldClaim {
  readonly key: MessageKey;
  readonly token: string;
}

type NotAccepted = Exclude<CloudApiResult, { kind: 'accepted' }>;

/**
 * One guarded Cloud API send, shared by the consumer and the release (the "execute" between their plan and settle):
 * claim the message in the send ledger, ask the gate once more, call the Cloud API, and act on the send policy's answer
 * to it. The claim is settled here (sent, replaced by its fallback, given back) except when the message is to be
 * dead-lettered: then the caller gets the claim and settles it once the dead letter is queued.
 */
export type SendStepResult =
  /** The message is done (sent, dead-lettered, replaced): acknowledge this copy. */
  | { readonly kind: 'final'; readonly state: FinalState; readonly wamid: string | null }
  /** Another worker holds the claim right now. */
  | { readonly kind: 'in-flight' }
  /** The gate, asked again right before the call, said not to send; `claim` is kept for a dead-letter decision. */
  | { readonly kind: 'gated'; readonly decision: Exclude<GateDecision, { action: 'send' }>; readonly claim: HeldClaim | null }
  | { readonly kind: 'sent'; readonly wamid: string; readonly resend: boolean; readonly fallbackMessageId?: string }
  | {
      readonly kind: 'answered';
      readonly action: Exclude<AnswerAction, { action: 'sent' | 'send-fallback' }>;
      readonly verdictWhy: string;
      readonly result: NotAccepted;
      readonly resend: boolean;
      /** Kept for a dead-letter action. */
      readonly claim: HeldClaim | null;
      /** Set when the answer is the fallback's (the window closed and the fallback was tried in the message's place). */
      readonly fallbackMessageId?: string;
    };

export interface SendStepDeps {
  readonly ledger: SendLedger;
  readonly tokens: TokenProvider;
  readonly cloudApi: CloudApi;
  readonly telemetry: Telemetry;
  readonly now: () => number;
  /** The send policy's settings (retries, park schedule, MAX_PARK_SECONDS). */
  readonly policy: AfterSendPolicy;
  /** Message outcomes (issue 13): what a later status webhook needs to find the message. Absent: nothing recorded. */
  readonly messages?: MessageOutcomeStore;
  /** Relay events of a send (`message.sent`). Absent: none. */
  readonly events?: RelayEventPublisher;
}

export interface SendOptions {
  /** Runs between the claim and the call (the release waits for its pace slot there); the gate asked once more. */
  readonly beforeCall?: () => Promise<GateDecision>;
}

/**
 * Claims, asks, calls and settles. Throws only when the token or the claim cannot be had (nothing was sent); a failed
 * settle after a send is logged and counted, never thrown (re-sending would be worse).
 */
export const sendOnce = async (deps: SendStepDeps, envelope: OutboundEnvelope, state: ParkState, options: SendOptions = {}): Promise<SendStepResult> => {
  const { ledger, telemetry } = deps;
  const log = { messageId: envelope.messageId, wabaId: envelope.wabaId };
  const token = await deps.tokens.tokenFor(envelope.wabaId);
  const key = { wabaId: envelope.wabaId, messageId: envelope.messageId };
  const claim = await ledger.claim(key, deps.now());
  if (claim.outcome === 'final') return { kind: 'final', state: claim.state, wamid: claim.wamid };
  if (claim.outcome === 'in-flight') return { kind: 'in-flight' };
  const held: HeldClaim = { key, token: claim.token };
  const giveBack = (ambiguous: boolean) => settle(deps, held, ambiguous ? 'ambiguous' : 'release');
  if (options.beforeCall) {
    const decision = await options.beforeCall();
    if (decision.action !== 'send') {
      if (decision.action === 'dead-letter') return { kind: 'gated', decision, claim: held };
      await giveBack(false);
      return { kind: 'gated', decision, claim: null };
    }
  }
  if (claim.resend) {
    telemetry.count('AmbiguousResends');
    telemetry.warn('sending again after an attempt that got no answer', log);
  }
  // The relay's callback data (unless the sender set its own) lets Meta's statuses name this message.
  const { payload, ours } = withCallbackData(envelope);
  const result = await deps.cloudApi.send(envelope.phoneNumberId, payload, token);
  const verdict = classifyCloudApiResult(result);
  telemetry.count('CloudApiCalls', 1, { verdict: verdict.verdict });
  if (verdict.verdict === 'sent') {
    await markSent(deps, held, verdict.wamid, log);
    await afterAccepted(deps, envelope, verdict.wamid, ours, log);
    return { kind: 'sent', wamid: verdict.wamid, resend: claim.resend };
  }
  const notAccepted = result as NotAccepted;
  const action = afterAnswer(verdict, envelope, state, deps.now(), deps.policy);
  if (action.action === 'send-fallback') return sendFallback(deps, envelope, held, notAccepted, claim.resend);
  if (action.action === 'sent') throw new Error('unreachable: a refused send cannot be sent');
  if (action.action === 'dead-letter') return { kind: 'answered', action, verdictWhy: verdict.why, result: notAccepted, resend: claim.resend, claim: held };
  await giveBack(verdict.verdict === 'retry' && verdict.ambiguous);
  return { kind: 'answered', action, verdictWhy: verdict.why, result: notAccepted, resend: claim.resend, claim: null };
};

/**
 * The window closed and the envelope has a fallback: the message's outcome is `failed` (window-closed) and the fallback
 * goes in its place, once, as `<messageId>:fallback` (its own claim). Once the fallback is sent the message is final
 * (REPLACED_BY_FALLBACK): no copy of it is ever sent. Otherwise the fallback's answer decides for the message.
 */
const sendFallback = async (deps: SendStepDeps, envelope: OutboundEnvelope, held: HeldClaim, result: NotAccepted, resend: boolean): Promise<SendStepResult> => {
  const fallbackMessageId = fallbackIdOf(envelope.messageId);
  const error = result.kind === 'http-error' ? result.error : null;
  const failed: OutcomeEntry = {
    state: 'failed',
    atMs: deps.now(),
    source: 'relay',
    reason: WINDOW_CLOSED,
    errors: [{ code: error?.code ?? null, ...(error?.message !== undefined ? { message: error.message } : {}) }],
  };
  await recordOutcome(deps, envelope, failed, { fallbackMessageId });
  deps.telemetry.count('FallbacksSent');
  deps.telemetry.info('window closed: sending the fallback instead', { wabaId: envelope.wabaId, messageId: envelope.messageId, fallbackMessageId });
  const fallback: OutboundEnvelope = {
    messageId: fallbackMessageId,
    wabaId: envelope.wabaId,
    phoneNumberId: envelope.phoneNumberId,
    payload: envelope.fallback as OutboundEnvelope['payload'],
    metadata: { fallbackFor: envelope.messageId },
    ...(envelope.notAfter !== undefined ? { notAfter: envelope.notAfter } : {}),
  };
  const r = await sendOnce(deps, fallback, FRESH);
  if (r.kind === 'sent' || r.kind === 'final') {
    await settle(deps, held, 'replaced', fallbackMessageId);
    return { kind: 'sent', wamid: r.kind === 'sent' ? r.wamid : (r.wamid ?? ''), resend, fallbackMessageId };
  }
  // The fallback was not sent: its claim goes back (no other copy of it exists), and its answer decides for the message.
  if (r.kind === 'answered' && r.claim) await settle(deps, r.claim, 'release');
  if (r.kind === 'answered') {
    const keep = r.action.action === 'dead-letter';
    if (!keep) await settle(deps, held, 'release');
    return { ...r, resend, claim: keep ? held : null, fallbackMessageId };
  }
  await settle(deps, held, 'release');
  return r.kind === 'gated' ? { ...r, claim: null } : r;
};

/** Settles a claim this step or its caller holds. Best effort: a claim left behind expires with its lease. */
export const settle = async (
  deps: Pick<SendStepDeps, 'ledger' | 'telemetry'>,
  claim: HeldClaim,
  how: 'release' | 'ambiguous' | 'replaced',
  fallbackMessageId = '',
): Promise<void> => {
  try {
    if (how === 'ambiguous') await deps.ledger.markAmbiguous(claim.key, claim.token);
    else if (how === 'replaced') await deps.ledger.markReplaced(claim.key, claim.token, fallbackMessageId);
    else await deps.ledger.release(claim.key, claim.token);
  } catch (error) {
    deps.telemetry.warn('could not settle the send claim; it expires with its lease', { ...claim.key, how, error: String(error) });
  }
};

/**
 * The message's dead letter is queued: its entry becomes DEAD_LETTERED (final; a redrive of this very dead letter may
 * reopen it). Tried hard: a claim left SENDING expires with its lease and another copy would decide again.
 */
export const settleDeadLetter = async (
  deps: Pick<SendStepDeps, 'ledger' | 'telemetry'>,
  claim: HeldClaim,
  dead: { readonly reason: string; readonly deadLetteredAt: string },
): Promise<void> =>
  tryHard(deps, () => deps.ledger.markDeadLettered(claim.key, claim.token, dead), 'dead-lettered, but could not record it', 'SendRecordFailures', { ...claim.key });

/** A claim for a message the gate dead-letters before any call: null when another copy acts on it or it is final. */
export const claimToDeadLetter = async (
  deps: Pick<SendStepDeps, 'ledger' | 'now'>,
  key: MessageKey,
): Promise<{ readonly claim: HeldClaim } | { readonly final: true } | { readonly inFlight: true }> => {
  const c = await deps.ledger.claim(key, deps.now());
  if (c.outcome === 'claimed') return { claim: { key, token: c.token } };
  return c.outcome === 'final' ? { final: true } : { inFlight: true };
};

/**
 * After Meta accepted a message: what its later statuses need (the wamid item when they will not carry the relay's
 * callback data, the fallback should it fail with 131047), then `message.sent`. Best effort: the message is sent
 * whatever happens here (counted and logged; never a reason to send again).
 */
const afterAccepted = async (deps: SendStepDeps, envelope: OutboundEnvelope, wamid: string, ours: boolean, log: Record<string, unknown>): Promise<void> => {
  const key = { wabaId: envelope.wabaId, messageId: envelope.messageId };
  const fallback = envelope.fallback && !isFallbackId(envelope.messageId) ? { phoneNumberId: envelope.phoneNumberId, payload: envelope.fallback } : undefined;
  const messages = deps.messages;
  if (messages && (!ours || fallback)) {
    const send = { wamid, rememberWamid: !ours, ...(fallback ? { fallback } : {}) };
    await tryHard(deps, () => messages.recordSend(key, send, deps.now()), 'sent, but could not record what its statuses need', 'OutcomeRecordFailures', { ...log, wamid });
  }
  const sent: OutcomeEntry = { state: 'sent', atMs: deps.now(), source: 'relay', wamid };
  await publish(deps, [outcomeEvent(key, sent, { sent })], log);
};

/**
 * Records an outcome (best effort: counted and logged) and returns the event it makes, or null when it changed nothing
 * (a later state was already recorded). Without a store, the outcome counts as recorded.
 */
export const recordOutcomeEvent = async (
  deps: Pick<SendStepDeps, 'messages' | 'telemetry' | 'now'>,
  key: MessageKey,
  entry: OutcomeEntry,
  extra: Record<string, unknown> = {},
  nowMs: number = deps.now(),
): Promise<RelayEvent | null> => {
  let history = { [entry.state]: entry };
  if (deps.messages) {
    try {
      const after = await deps.messages.record(key, entry, nowMs);
      history = after && after !== 'wamid-mismatch' ? after.history : {};
    } catch (error) {
      deps.telemetry.warn('message outcome not recorded', { ...key, error: String(error) });
      deps.telemetry.count('OutcomeRecordFailures');
    }
  }
  return outcomeEvent(key, entry, history, extra);
};

/** Records an outcome the send step decided and publishes its event; best effort (counted and logged). */
export const recordOutcome = async (deps: SendStepDeps, envelope: Pick<OutboundEnvelope, 'wabaId' | 'messageId'>, entry: OutcomeEntry, extra: Record<string, unknown>): Promise<void> => {
  const key = { wabaId: envelope.wabaId, messageId: envelope.messageId };
  await publish(deps, [await recordOutcomeEvent(deps, key, entry, extra)], key);
};

export const publish = async (deps: Pick<SendStepDeps, 'events' | 'telemetry'>, events: readonly (RelayEvent | null)[], log: Readonly<Record<string, unknown>>): Promise<void> => {
  const list = events.filter((e): e is RelayEvent => e !== null);
  if (!deps.events || list.length === 0) return;
  try {
    await deps.events.publish(list);
  } catch (error) {
    deps.telemetry.warn('relay events not published', { ...log, error: String(error) });
    deps.telemetry.count('RelayEventPublishFailures');
  }
};

/**
 * The message went out: record it, trying hard, because a lost record could allow a second send. Still acknowledged when
 * it cannot be recorded: re-sending would be worse than a ledger entry that expires with its lease.
 */
const markSent = (deps: SendStepDeps, claim: HeldClaim, wamid: string, log: Record<string, unknown>): Promise<void> =>
  tryHard(deps, () => deps.ledger.markSent(claim.key, claim.token, wamid, deps.now()), 'sent, but could not record it', 'SendRecordFailures', { ...log, wamid });

/** A write after the fact (the message is sent or dead-lettered already): three tries, then counted and logged, never thrown. */
const tryHard = async (deps: Pick<SendStepDeps, 'telemetry'>, write: () => Promise<void>, giveUp: string, metric: string, log: Record<string, unknown>): Promise<void> => {
  for (let attempt = 1; ; attempt++) {
    try {
      await write();
      return;
    } catch (error) {
      if (attempt >= 3) {
        deps.telemetry.error(giveUp, { ...log, error: String(error) });
        deps.telemetry.count(metric);
        return;
      }
    }
  }
};
