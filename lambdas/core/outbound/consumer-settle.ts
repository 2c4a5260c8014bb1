/**
 * The consumer's settle phase for one batch, after every message has its outcome: parked copies first (a message that
 * parks without a copy gets one, whatever happened to it before), then the delay-queue and dead-letter sends, then the
 * claims of dead-lettered messages (final only once their dead letter is queued), outcomes and their events, the clients' phone numbers,
 * phone owners learnt, and the parked copies of messages that left.
 */
import type { DeadLetterReason, ParkState } from './outbound-decision.js';
import { type DeadLetterBody, deadLetterMessage } from './dead-letter.js';
import { PARK_ATTRIBUTES } from './outbound-decision.js';
import { type OutboundEnvelope, recipientOf } from './envelope.js';
import { mapLimit } from '../shared/concurrency.js';
import type { OutcomeEntry } from '../outcomes/message-outcome.js';
import type { ClientPhoneNumbers, OutboundQueues, PhoneOwnership, QueueMessage } from './ports.js';
import type { ParkedCopy, ParkedRef, ParkedStore } from '../release/ports.js';
import type { Telemetry } from '../shared/telemetry.js';
import { PARKED_COPY_MAX_BODY_BYTES, parkedOrderKey } from '../release/release-rules.js';
import { type HeldClaim, publish, recordOutcomeEvent, type SendStepDeps, settle, settleDeadLetter } from './send-step.js';

export type ConsumerOutcome =
  /** Sent now, or found final (another copy of the message finished it): acknowledged. */
  | { readonly kind: 'done'; readonly sent?: boolean; readonly ambiguousResend?: boolean; readonly learnPhone?: boolean; readonly final?: boolean }
  /** Back through the delay queue: a park (`firstPark`: its first) or a retry's backoff; `writeCopy`: no copy yet. */
  | { readonly kind: 'park'; readonly message: QueueMessage; readonly firstPark: boolean; readonly writeCopy: boolean }
  | {
      readonly kind: 'dead-letter';
      readonly message: QueueMessage;
      readonly reason: DeadLetterReason;
      readonly detail: string;
      /** The message's send claim (null only for an unreadable envelope): DEAD_LETTERED once the dead letter is queued. */
      readonly claim: HeldClaim | null;
      readonly deadLetteredAt: string;
    }
  | { readonly kind: 'retry-later' };

/** A record's dead-letter outcome: the dead letter to queue and, for a readable envelope, the claim to settle after. */
export const deadLetterOutcome = (
  record: { readonly id: string; readonly body: string },
  envelope: OutboundEnvelope | null,
  state: ParkState,
  d: { readonly reason: DeadLetterReason; readonly detail: string },
  claim: HeldClaim | null,
  nowMs: number,
  cloudApiError?: DeadLetterBody['cloudApiError'],
): ConsumerOutcome => {
  const m = deadLetterMessage({ reason: d.reason, detail: d.detail, nowMs, envelope, rawBody: record.body, state, ...(cloudApiError ? { cloudApiError } : {}) });
  const message = { id: record.id, body: m.body, attributes: m.attributes };
  return { kind: 'dead-letter', message, reason: d.reason, detail: d.detail, claim, deadLetteredAt: new Date(nowMs).toISOString() };
};

interface SettleItem {
  readonly record: { readonly id: string; readonly body: string; readonly sentTimestampMs?: number };
  readonly envelope: OutboundEnvelope | null;
  readonly state: ParkState;
  outcome?: ConsumerOutcome;
}

interface SettleDeps {
  readonly queues: OutboundQueues;
  readonly parked: ParkedStore;
  readonly phoneNumbers: ClientPhoneNumbers;
  readonly phones: Pick<PhoneOwnership, 'learn'>;
  readonly telemetry: Telemetry;
}

const firstEnqueued = (item: SettleItem, nowMs: number): number => item.state.firstEnqueuedMs ?? item.record.sentTimestampMs ?? nowMs;
const orderKeyOf = (item: SettleItem, env: OutboundEnvelope, nowMs: number): string => parkedOrderKey(firstEnqueued(item, nowMs), env.messageId, env.sequence);

/** Settles the batch; returns the ids of the records that must come back. */
export const settleBatch = async (
  deps: SettleDeps,
  send: SendStepDeps,
  items: readonly SettleItem[],
  nowMs: number,
  /** Each client's phone number as the batch read found it: only a change is written. */
  knownPhoneNumbers: ReadonlyMap<string, string>,
): Promise<string[]> => {
  const t = deps.telemetry;
  await writeCopies(deps, items, nowMs);
  const parks = items.flatMap((i) => (i.outcome?.kind === 'park' ? [i.outcome.message] : []));
  const deadLetters = items.flatMap((i) => (i.outcome?.kind === 'dead-letter' ? [i.outcome.message] : []));
  const [parkFailed, dlFailed] = await Promise.all([
    parks.length > 0 ? deps.queues.park(parks) : Promise.resolve(new Set<string>()),
    deadLetters.length > 0 ? deps.queues.deadLetter(deadLetters) : Promise.resolve(new Set<string>()),
  ]);
  const failed = new Set<string>();
  for (const item of items) {
    const o = item.outcome;
    const id = item.record.id;
    if (!o || o.kind === 'retry-later' || (o.kind === 'park' && parkFailed.has(id)) || (o.kind === 'dead-letter' && dlFailed.has(id))) failed.add(id);
  }
  // Dead-lettered messages become final only now their dead letter is queued; a failed send gives the claim back.
  await mapLimit(items, 10, async (item) => {
    const o = item.outcome;
    if (o?.kind !== 'dead-letter' || !o.claim) return;
    if (failed.has(item.record.id)) await settle(send, o.claim, 'release');
    else await settleDeadLetter(send, o.claim, { reason: o.reason, deadLetteredAt: o.deadLetteredAt });
  });
  await recordOutcomes(send, items, failed, nowMs);
  await countAndClean(deps, items, failed, nowMs, knownPhoneNumbers);
  if (parkFailed.size + dlFailed.size > 0) t.error('queue send failed; messages kept for retry', { park: parkFailed.size, deadLetter: dlFailed.size });
  return [...failed];
};

/**
 * The durable copies of parked messages that have none yet, written before the delay-queue send; a message whose copy
 * is written carries `relay-parked-copy` from then on. A copy that cannot be written leaves its message on the
 * delay-queue path (it resumes when its hop ends, and tries the copy again when it parks again): counted, never lost.
 */
const writeCopies = async (deps: SettleDeps, items: readonly SettleItem[], nowMs: number): Promise<void> => {
  const copies: { item: SettleItem; copy: ParkedCopy }[] = [];
  for (const item of items) {
    const o = item.outcome;
    const env = item.envelope;
    if (o?.kind !== 'park' || !o.writeCopy || !env) continue;
    if (Buffer.byteLength(item.record.body) > PARKED_COPY_MAX_BODY_BYTES) {
      deps.telemetry.count('ParkedCopyTooLarge');
      continue;
    }
    const attrs = o.message.attributes ?? {};
    copies.push({
      item,
      copy: {
        wabaId: env.wabaId,
        messageId: env.messageId,
        orderKey: orderKeyOf(item, env, nowMs),
        firstEnqueuedMs: firstEnqueued(item, nowMs),
        firstParkedAt: attrs[PARK_ATTRIBUTES.firstParkedAt] ?? new Date(nowMs).toISOString(),
        phoneNumberId: env.phoneNumberId,
        recipient: recipientOf(env.payload),
        parkCount: Number(attrs[PARK_ATTRIBUTES.parkCount] ?? 1),
        sendAttempts: item.state.sendAttempts,
        rateLimitHits: item.state.rateLimitHits ?? 0,
        body: item.record.body,
      },
    });
  }
  if (copies.length === 0) return;
  let failed: ReadonlySet<string>;
  try {
    failed = await deps.parked.put(copies.map((c) => c.copy));
  } catch (error) {
    failed = new Set(copies.map((c) => c.copy.messageId));
    deps.telemetry.warn('parked copies not written', { error: String(error) });
  }
  for (const { item, copy } of copies) {
    if (failed.has(copy.messageId)) continue;
    const o = item.outcome as Extract<ConsumerOutcome, { kind: 'park' }>;
    item.outcome = { ...o, message: { ...o.message, attributes: { ...o.message.attributes, [PARK_ATTRIBUTES.parkedCopy]: '1' } } };
  }
  if (failed.size > 0) {
    deps.telemetry.count('ParkedCopyWriteFailures', failed.size);
    deps.telemetry.warn('parked copies not written; those messages resume when their delay hop ends', { messages: failed.size });
  }
};

/**
 * Outcomes of what this batch parked (its first park) and dead-lettered, then their events: one
 * conditional write per message. Best effort: the messages are parked or dead-lettered whatever happens here.
 */
const recordOutcomes = async (send: SendStepDeps, items: readonly SettleItem[], failed: ReadonlySet<string>, nowMs: number): Promise<void> => {
  if (!send.messages && !send.events) return;
  const todo: { key: { wabaId: string; messageId: string }; entry: OutcomeEntry }[] = [];
  for (const item of items) {
    const o = item.outcome;
    const env = item.envelope;
    if (!o || !env || failed.has(item.record.id)) continue;
    const key = { wabaId: env.wabaId, messageId: env.messageId };
    if (o.kind === 'park' && o.firstPark) todo.push({ key, entry: { state: 'parked', atMs: nowMs, source: 'relay' } });
    if (o.kind === 'dead-letter') todo.push({ key, entry: { state: 'dead-lettered', atMs: nowMs, source: 'relay', reason: o.reason, detail: o.detail.slice(0, 500) } });
  }
  if (todo.length === 0) return;
  const out = await mapLimit(todo, 10, ({ key, entry }) => recordOutcomeEvent(send, key, entry, {}, nowMs));
  await publish(send, out, { events: out.length });
};

/**
 * Metrics, the clients' latest phone numbers (when changed), phone owners learnt from sends, and the parked copies of
 * messages that left. The client counters are not written here: the tally function counts them from the table's stream.
 */
const countAndClean = async (
  deps: SettleDeps,
  items: readonly SettleItem[],
  failed: ReadonlySet<string>,
  nowMs: number,
  knownPhoneNumbers: ReadonlyMap<string, string>,
): Promise<void> => {
  const t = deps.telemetry;
  const latestPhone = new Map<string, string>();
  const unparked: ParkedRef[] = [];
  const learnt = new Map<string, string>();
  let parked = 0;
  let sent = 0;
  let deadLettered = 0;
  for (const item of items) {
    const o = item.outcome;
    if (!o || failed.has(item.record.id)) continue;
    if (o.kind === 'dead-letter') deadLettered++;
    if (o.kind === 'park') parked++;
    if (o.kind === 'done' && o.sent) sent++;
    const env = item.envelope;
    if (!env) continue;
    // The client's latest number (what a stale-offboarding probe asks about); never one the relay knows is another's.
    const ownNumber = !(o.kind === 'dead-letter' && o.reason === 'phone-number-mismatch');
    if (ownNumber && (o.kind === 'dead-letter' || (o.kind === 'park' && o.firstPark) || (o.kind === 'done' && o.sent))) latestPhone.set(env.wabaId, env.phoneNumberId);
    // A message that left the park (sent, found final, dead-lettered): its copy goes (a copy already gone is fine).
    if ((item.state.parkedCopy || item.state.firstParkedAt !== null) && o.kind !== 'park') unparked.push({ wabaId: env.wabaId, orderKey: orderKeyOf(item, env, nowMs) });
    if (o.kind === 'done' && o.sent && o.learnPhone) learnt.set(env.phoneNumberId, env.wabaId);
    // Another copy of the message finished it first (a redelivery, a duplicate enqueue, its delay-queue copy).
    if (o.kind === 'done' && o.final) t.count('DuplicateSuppressed');
    if (item.state.firstParkedAt) {
      const age = Math.max(0, Math.round((nowMs - Date.parse(item.state.firstParkedAt)) / 1000));
      // How long parked messages have waited (dashboard); the ClientOffboardedTooLong alarm watches the sweeper.
      if (o.kind === 'park') t.seconds('ParkAgeSeconds', age);
      if (o.kind === 'done' && o.sent) t.seconds('ResumedAfterParkSeconds', age);
    }
  }
  t.count('MessagesSent', sent);
  t.count('MessagesParked', parked);
  t.count('MessagesDeadLettered', deadLettered);
  t.count('BatchItemFailures', failed.size);
  const changed = [...latestPhone].filter(([wabaId, phoneNumberId]) => knownPhoneNumbers.get(wabaId) !== phoneNumberId).map(([wabaId, phoneNumberId]) => ({ wabaId, phoneNumberId }));
  await Promise.all([
    changed.length > 0 ? deps.phoneNumbers.record(changed, nowMs).catch((error) => t.warn('client phone numbers not recorded', { error: String(error) })) : undefined,
    // A copy left behind is harmless: a release finds its message final and deletes it then.
    unparked.length > 0 ? deps.parked.remove(unparked).catch((error) => t.warn('parked copies not deleted', { error: String(error) })) : undefined,
    // A send the Cloud API accepted ties the phone number to the WABA, for numbers nobody has named yet.
    ...[...learnt].map(([phoneNumberId, wabaId]) =>
      deps.phones.learn(phoneNumberId, wabaId, 'send', nowMs).catch((error: unknown) => t.warn('phone number owner not recorded', { phoneNumberId, wabaId, error: String(error) })),
    ),
  ]);
};
