/**
 * What becomes of one parked copy in a release once its message is settled: sent (the copy goes, `message.released`),
 * found final (another copy finished it), or dead-lettered (claimed first; final once its dead letter is queued).
 */
import { type DeadLetterBody, deadLetterMessage } from '../outbound/dead-letter.js';
import type { OutboundEnvelope } from '../outbound/envelope.js';
import type { DeadLetterReason, ParkState } from '../outbound/outbound-decision.js';
import type { OutboundQueues } from '../outbound/ports.js';
import { claimToDeadLetter, type HeldClaim, publish, recordOutcome, type SendStepDeps, settle, settleDeadLetter } from '../outbound/send-step.js';
import { relayEvent } from '../outcomes/relay-events.js';
import type { ParkedCopy, StoredParkedCopy } from './ports.js';
import { block, bump, type EndDeps, forget, iso, laneOf, refOf, type RunState } from './release-end.js';

export interface CopyDeps {
  readonly o: EndDeps & { readonly queues: Pick<OutboundQueues, 'deadLetter'> };
  /** The send step's dependencies (the run's own, `run.send`, carry its event buffer). */
  readonly send: SendStepDeps;
}

/** A parked copy's park state, as its delay-queue copy carries it. */
export const copyState = (copy: ParkedCopy): ParkState => ({
  parkCount: copy.parkCount,
  firstParkedAt: copy.firstParkedAt,
  sendAttempts: copy.sendAttempts,
  rateLimitHits: copy.rateLimitHits,
  parkedCopy: true,
});

export const copySent = async (d: CopyDeps, run: RunState, copy: ParkedCopy, wamid: string, resend: boolean, fallbackMessageId: string | undefined): Promise<void> => {
  const { telemetry } = d.o;
  const log = { wabaId: copy.wabaId, messageId: copy.messageId };
  await forget(d.o, run, refOf(copy));
  run.progress = bump(run.progress, 'sent');
  telemetry.count('MessagesReleased');
  telemetry.count('MessagesSent');
  if (resend) telemetry.count('ReleaseAmbiguousResends');
  telemetry.seconds('ResumedAfterParkSeconds', Math.max(0, Math.round((d.o.now() - Date.parse(copy.firstParkedAt)) / 1000)));
  telemetry.info('parked message released', { ...log, wamid });
  const extra = { releaseId: run.releaseId, firstParkedAt: copy.firstParkedAt, ...(fallbackMessageId ? { fallbackMessageId } : {}) };
  await publish(run.send, [relayEvent('message.released', { time: d.o.now(), ...log, wamid }, [copy.wabaId, copy.messageId, 'released'], extra)], log);
};

/** Another copy finished the message (sent, dead-lettered, replaced): its parked copy goes, nothing is sent. */
export const copyFinal = async (d: CopyDeps, run: RunState, copy: ParkedCopy): Promise<void> => {
  await forget(d.o, run, refOf(copy));
  run.progress = bump(run.progress, 'alreadySent');
  d.o.telemetry.count('DuplicateSuppressed');
};

/** Dead-letters a message no claim is held for yet: claimed first, so no other copy acts on it meanwhile. */
export const claimAndDeadLetter = async (
  d: CopyDeps,
  run: RunState,
  copy: ParkedCopy,
  envelope: OutboundEnvelope | null,
  state: ParkState,
  why: { readonly reason: DeadLetterReason; readonly detail: string },
): Promise<void> => {
  const c = await claimToDeadLetter(d.send, { wabaId: copy.wabaId, messageId: copy.messageId });
  if ('final' in c) return copyFinal(d, run, copy);
  if ('inFlight' in c) return block(run, laneOf(copy), d.o.now() + 2_000);
  return deadLetterCopy(d, run, { ok: true, copy }, envelope, copy.body, state, why, c.claim);
};

export const deadLetterCopy = async (
  d: CopyDeps,
  run: RunState,
  item: StoredParkedCopy,
  envelope: OutboundEnvelope | null,
  raw: string,
  state: ParkState,
  why: { readonly reason: DeadLetterReason; readonly detail: string },
  claim: HeldClaim | null,
  cloudApiError?: DeadLetterBody['cloudApiError'],
): Promise<void> => {
  const nowMs = d.o.now();
  const m = deadLetterMessage({ reason: why.reason, detail: why.detail, nowMs, envelope, rawBody: raw, state, ...(cloudApiError ? { cloudApiError } : {}) });
  // The copy's WABA, even when its body cannot be read (the body's own cannot be trusted then).
  const wabaId = item.ok ? item.copy.wabaId : item.wabaId;
  const failed = await d.o.queues.deadLetter([{ id: 'dl', body: m.body, attributes: { ...m.attributes, wabaId } }]);
  if (failed.size > 0) {
    if (claim) await settle(d.send, claim, 'release');
    throw new Error(`dead-letter send failed for a parked copy of ${wabaId}`);
  }
  if (claim) await settleDeadLetter(d.send, claim, { reason: why.reason, deadLetteredAt: iso(nowMs) });
  await forget(d.o, run, item.ok ? refOf(item.copy) : { wabaId: item.wabaId, orderKey: item.orderKey });
  run.progress = bump(run.progress, 'deadLettered');
  d.o.telemetry.count('MessagesDeadLettered');
  d.o.telemetry.count('DeadLetterReason', 1, { reason: why.reason });
  if (envelope) await recordOutcome(run.send, envelope, { state: 'dead-lettered', atMs: nowMs, source: 'relay', reason: why.reason, detail: why.detail.slice(0, 500) }, {});
};
