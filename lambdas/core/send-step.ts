import { classifyCloudApiResult, type CloudApiResult, type SendVerdict } from './cloud-api-result.js';
import type { OutboundEnvelope } from './envelope.js';
import type { CloudApi, Telemetry, TokenProvider } from './ports.js';
import type { MessageKey, SendLedger } from './send-ledger.js';

/**
 * One guarded Cloud API send, shared by the consumer and the release: claim the messageId in the send ledger, call the
 * Cloud API, then settle the claim (sent, released, or ambiguous when Meta may have the message).
 */
export type SendStepResult =
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
    };

export interface SendStepDeps {
  readonly ledger: SendLedger;
  readonly tokens: TokenProvider;
  readonly cloudApi: CloudApi;
  readonly telemetry: Telemetry;
  readonly now: () => number;
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
  const result = await deps.cloudApi.send(envelope.phoneNumberId, envelope.payload, token);
  const verdict = classifyCloudApiResult(result);
  telemetry.count('CloudApiCalls', 1, { verdict: verdict.verdict });
  if (verdict.verdict === 'sent') {
    await markSent(deps, key, claim.token, verdict.wamid, log);
    return { kind: 'sent', wamid: verdict.wamid, resend: claim.resend };
  }
  await giveBack(verdict.verdict === 'retry' && verdict.ambiguous);
  return { kind: 'not-sent', verdict, result: result as Exclude<CloudApiResult, { kind: 'accepted' }>, resend: claim.resend };
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
