/**
 * The consumer's side of the send policy's gate: the facts one message is judged on (what the batch read, what this
 * batch learnt), and what is counted when a decision is carried out. The decision itself is `gate` (send-policy.ts).
 */
import type { ClientGate, HoldRecord } from '../health/client-health.js';
import { behindRelease } from '../release/release-rules.js';
import type { Telemetry } from '../shared/telemetry.js';
import type { BatchFollowUp } from './consumer-follow-up.js';
import { type OutboundEnvelope, recipientOf } from './envelope.js';
import type { DecisionPolicy, ParkState } from './outbound-decision.js';
import { type BatchContextReader, type CustomerKey, customerIdentity, messageIdentity, type PhoneOwner } from './ports.js';
import { isFinal } from './send-ledger.js';
import { type GateDecision, gate } from './send-policy.js';

/** What the gate needs of one record. */
export interface GatedItem {
  readonly envelope: OutboundEnvelope | null;
  readonly state: ParkState;
  readonly phoneOwner?: PhoneOwner;
}

export const customerOf = (e: OutboundEnvelope): CustomerKey => ({ wabaId: e.wabaId, phoneNumberId: e.phoneNumberId, customer: recipientOf(e.payload) });

/**
 * Records whose ledger entry is read with the batch: delay-queue copies (mostly parked again) and redrives. Any other
 * record is looked up only before it parks or is dead-lettered (a final message never is); its claim settles a send.
 */
export const readsLedgerFirst = (i: { readonly record: { readonly fromDelayQueue: boolean }; readonly redriveOf?: string }): boolean =>
  i.record.fromDelayQueue || i.redriveOf !== undefined;

/** The identities of the messages another copy finished (sent, dead-lettered, replaced): one strongly consistent read. */
export const finalOnes = async (reader: BatchContextReader, envelopes: readonly OutboundEnvelope[]): Promise<Set<string>> => {
  const { ledger } = await reader.readBatch([], [], envelopes.map((e) => ({ wabaId: e.wabaId, messageId: e.messageId })));
  return new Set(envelopes.map(messageIdentity).filter((id) => isFinal(ledger.get(id)?.state)));
};

const NO_RELEASE = { drainSince: null, beatAt: null } as const;
/** A hold this batch saw start in another send, before its record was read back (only its state matters to the gate). */
const PLACEHOLDER_HOLD: HoldRecord = { holdId: 'this-batch', startedAtMs: 0, code: '', why: '', phoneNumberId: '', messageId: '' };

/** The gate's decision for one message, with what this batch learnt (a client held by an earlier send). Counts nothing. */
export const decide = (item: GatedItem, client: ClientGate, run: BatchFollowUp, nowMs: number, policy: DecisionPolicy): GateDecision => {
  const envelope = item.envelope as OutboundEnvelope;
  const held = run.held.has(envelope.wabaId) && client.hold.state !== 'in-force';
  const facts = {
    client: held ? { ...client, hold: { state: 'in-force' as const, hold: run.started.get(envelope.wabaId) ?? PLACEHOLDER_HOLD } } : client,
    phoneOwner: item.phoneOwner,
    behindRelease: behindRelease(client.status, run.context.releases.get(envelope.wabaId) ?? NO_RELEASE),
    humanRepliedAtMs: envelope.automated === true ? run.context.humanReplies.get(customerIdentity(customerOf(envelope))) : undefined,
  };
  return gate(facts, envelope, item.state, nowMs, policy);
};

/** Counts (and remembers for the batch's follow-up) a gate decision about to be carried out. */
export const noteDecision = (telemetry: Telemetry, item: GatedItem, d: GateDecision, run: BatchFollowUp): void => {
  const envelope = item.envelope as OutboundEnvelope;
  if (d.action === 'park') {
    if (d.cause === 'behind-release') run.behind.add(envelope.wabaId);
    if (d.cause === 'held') telemetry.count('ParkedByHold');
    if (d.cause === 'restricted') telemetry.count('ParkedByRestriction');
    if (d.cause === 'human-replied') telemetry.count('ParkedForHumanReply');
  }
  if (d.action === 'dead-letter' && d.reason === 'phone-number-mismatch') {
    telemetry.count('PhoneNumberMismatch');
    telemetry.warn('phone number of another WABA; dead-lettered', {
      wabaId: envelope.wabaId,
      messageId: envelope.messageId,
      phoneNumberId: envelope.phoneNumberId,
      owner: item.phoneOwner?.wabaId,
    });
  }
};
