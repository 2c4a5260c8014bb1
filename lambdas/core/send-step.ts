import { classifyCloudApiResult, type CloudApiResult, type SendVerdict } from './cloud-api-result.js';
import type { OutboundEnvelope } from './envelope.js';
import type { RelayEvent } from './relay-events.js';
import type { CloudApi, MessageOutcomeStore, RelayEventPublisher, Telemetry, TokenProvider } from './ports.js';
import type { MessageKey, SendLedger } from './send-ledger.js';
import { fallbackIdOf, isFallbackId, type OutcomeEntry, outcomeEvent, WINDOW_CLOSED, withCallbackData } from './message-outcome.js';

/**
 * One guarded Cloud API send, shared by the consumer and the release: claim the messageId in the send ledger, call the
 * Cloud API, then settle the claim (sent, released, or ambiguous when Meta may have the message).
 */
export type SendStepResult = (
  | { readonly kind: 'already-sent'; readonly wamid: string | null }
  /** Another worker holds the claim right now. */
  | { readonly kind: 'in-flight' }
  /** `beforeCall` said not to call after all; the claim was given back. */
  | { readonly kind: 'aborted' }
  | { readonly kind: 'sent'; readonly wamid: string; readonly resend: boolean }
  | {
      readonly kind: 'not-sent';
      readonly verdict: Exclude<SendVerdict, { verdict: 'sent' }>;
      readonly result: Exclude<CloudApiResult, { kind: 'accepted' }>;
      readonly resend: boolean;
    }
) & {
  /**
   * Set when the Cloud API refused the message because the 24-hour window closed (131047) and the envelope had a
   * `fallback`: the result is the fallback's (`<messageId>:fallback`), sent in its place under its own claim.
   */
  readonly fallbackMessageId?: string;
};

export interface SendStepDeps {
  readonly ledger: SendLedger;
  readonly tokens: TokenProvider;
  readonly cloudApi: CloudApi;
  readonly telemetry: Telemetry;
  readonly now: () => number;
  /** Message outcomes (issue 13): what a later status webhook needs to find the message. Absent: nothing recorded. */
  readonly messages?: MessageOutcomeStore;
  /** Relay events of a send (`message.sent`). Absent: none. */
  readonly events?: RelayEventPublisher;
}

/**
 * Claims, calls and settles. Throws only when the token or the claim cannot be had (nothing was sent); a failed
 * settle after a send is logged and counted, never thrown (re-sending would be worse). `beforeCall` runs between the
 * claim and the call (the release waits for its pace slot there) and may cancel the call by resolving false.
 */
export const sendOnce = async (
  deps: SendStepDeps,
  envelope: OutboundEnvelope,
  beforeCall?: () => Promise<boolean>,
): Promise<SendStepResult> => {
  const { ledger, telemetry } = deps;
  const log = { messageId: envelope.messageId, wabaId: envelope.wabaId };
  const token = await deps.tokens.tokenFor(envelope.wabaId);
  const key = { wabaId: envelope.wabaId, messageId: envelope.messageId };
  const claim = await ledger.claim(key, deps.now());
  if (claim.outcome === 'already-sent') return { kind: 'already-sent', wamid: claim.wamid };
  if (claim.outcome === 'in-flight') return { kind: 'in-flight' };
  const giveBack = async (ambiguous: boolean) => {
    try {
      if (ambiguous) await ledger.markAmbiguous(key, claim.token);
      else await ledger.release(key, claim.token);
    } catch (error) {
      telemetry.warn('could not release send claim; it expires with its lease', { ...log, error: String(error) });
    }
  };
  if (beforeCall && !(await beforeCall())) {
    await giveBack(false);
    return { kind: 'aborted' };
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
    await markSent(deps, key, claim.token, verdict.wamid, log);
    await afterAccepted(deps, envelope, verdict.wamid, ours, log);
    return { kind: 'sent', wamid: verdict.wamid, resend: claim.resend };
  }
  await giveBack(verdict.verdict === 'retry' && verdict.ambiguous);
  const notSent = { kind: 'not-sent', verdict, result: result as Exclude<CloudApiResult, { kind: 'accepted' }>, resend: claim.resend } as const;
  if (verdict.verdict === 'reject' && verdict.windowClosed && envelope.fallback && !isFallbackId(envelope.messageId)) {
    return sendFallback(deps, envelope, notSent.result);
  }
  return notSent;
};

/**
 * The window closed and the envelope has a fallback: the message's outcome is `failed` (window-closed) and the fallback
 * goes in its place, once, as `<messageId>:fallback` (its own claim: a retry of the original never sends it twice).
 */
export const sendFallback = async (deps: SendStepDeps, envelope: OutboundEnvelope, result: CloudApiResult): Promise<SendStepResult> => {
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
  };
  return { ...(await sendOnce(deps, fallback)), fallbackMessageId };
};

/**
 * After Meta accepted a message: what its later statuses need (the wamid item when they will not carry the relay's
 * callback data, the fallback should it fail with 131047), then `message.sent`. Best effort: the message is sent
 * whatever happens here (counted and logged; never a reason to send again).
 */
export const afterAccepted = async (deps: SendStepDeps, envelope: OutboundEnvelope, wamid: string, ours: boolean, log: Record<string, unknown>): Promise<void> => {
  const key = { wabaId: envelope.wabaId, messageId: envelope.messageId };
  const fallback = envelope.fallback && !isFallbackId(envelope.messageId) ? { phoneNumberId: envelope.phoneNumberId, payload: envelope.fallback } : undefined;
  if (deps.messages && (!ours || fallback)) {
    for (let attempt = 1; ; attempt++) {
      try {
        await deps.messages.recordSend(key, { wamid, rememberWamid: !ours, ...(fallback ? { fallback } : {}) }, deps.now());
        break;
      } catch (error) {
        if (attempt >= 3) {
          deps.telemetry.error('sent, but could not record what its statuses need', { ...log, wamid, error: String(error) });
          deps.telemetry.count('OutcomeRecordFailures');
          break;
        }
      }
    }
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
      history = (await deps.messages.record(key, entry, nowMs))?.history ?? {};
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

/** The message went out: record it, trying hard, because a lost record could allow a second send. */
const markSent = async (deps: SendStepDeps, key: MessageKey, token: string, wamid: string, log: Record<string, unknown>): Promise<void> => {
  for (let attempt = 1; ; attempt++) {
    try {
      await deps.ledger.markSent(key, token, wamid, deps.now());
      return;
    } catch (error) {
      if (attempt >= 3) {
        // Still acknowledged: re-sending would be worse than a ledger entry that expires with its lease.
        deps.telemetry.error('sent, but could not record it', { ...log, wamid, error: String(error) });
        deps.telemetry.count('SendRecordFailures');
        return;
      }
    }
  }
};
