/**
 * The consumer: one SQS batch of the outbound and delay queues, in three phases.
 * - plan: parse each record, one read for the batch (client statuses, phone owners, the ledger entries of delay-queue
 *   copies and redrives), and the send policy's gate per message; a message already final is acknowledged here or by
 *   its refused claim, whatever copy this is (a fresh record the gate would not send is looked up before it acts);
 * - execute: send what may go (one pilot per client first, see below), through the send step;
 * - settle: parked copies, the delay-queue and dead-letter sends, the claims of dead-lettered messages, outcomes,
 *   counters, then holds and releases (consumer-follow-up.ts).
 * Every decision is the send policy's (send-policy.ts); this file only carries decisions out.
 */
import { clientGate, type ClientGate, type HoldRecord } from '../health/client-health.js';
import type { ClientHealthService } from '../health/client-health-service.js';
import { limiter, mapLimit } from '../shared/concurrency.js';
import type { DeadLetterBody } from './dead-letter.js';
import { type OutboundEnvelope, parseEnvelope } from './envelope.js';
import { NoTokenError } from '../shared/errors.js';
import { type AfterSendPolicy, FRESH, PARK_ATTRIBUTES, type ParkState, parkAttributes, REDRIVE_ATTRIBUTE, readParkState } from './outbound-decision.js';
import { type BatchFollowUp, checkReleases, probeHeld, tripHold } from './consumer-follow-up.js';
import { type ConsumerOutcome as Outcome, deadLetterOutcome, settleBatch } from './consumer-settle.js';
import { isFinal, type MessageKey, type SendLedger } from './send-ledger.js';
import { EventBuffer } from '../outcomes/event-buffer.js';
import { claimToDeadLetter, type SendStepDeps, type SendStepResult, sendOnce } from './send-step.js';
import type { GateDecision } from './send-policy.js';
import { customerOf, decide, finalOnes, noteDecision, readsLedgerFirst } from './consumer-gate.js';
import { type ClientPhoneNumbers, type BatchContextReader, type CloudApi, messageIdentity, type OutboundQueues, type PhoneOwner, type PhoneOwnership, type TokenProvider } from './ports.js';
import type { MessageOutcomeStore, RelayEventPublisher } from '../outcomes/ports.js';
import type { ParkedStore, ReleaseRequester } from '../release/ports.js';
import type { Telemetry } from '../shared/telemetry.js';

export type { DeadLetterBody };

/** One SQS record as the consumer sees it. */
export interface OutboundRecord {
  readonly id: string;
  readonly body: string;
  readonly attributes: Readonly<Record<string, string | undefined>>;
  /** The queue's SentTimestamp (epoch ms): on the outbound queue, when upstream enqueued the message. */
  readonly sentTimestampMs?: number;
  /**
   * True only for records from the relay's own delay queue: their park attributes (`relay-*`) are the relay's. On
   * the outbound queue anyone with SendMessage could set them, so there they are ignored.
   */
  readonly fromDelayQueue: boolean;
}

export interface OutboundServiceOptions extends AfterSendPolicy {
  readonly statuses: BatchContextReader;
  /** Learns the owner of a phone number from a successful send (best effort). */
  readonly phones: Pick<PhoneOwnership, 'learn'>;
  readonly ledger: SendLedger;
  /** Each client's latest phone number, written when it changed. */
  readonly phoneNumbers: ClientPhoneNumbers;
  readonly queues: OutboundQueues;
  readonly cloudApi: CloudApi;
  readonly tokens: TokenProvider;
  readonly telemetry: Telemetry;
  /** Durable copies of parked messages, which a release sends the moment the client is back. */
  readonly parked: ParkedStore;
  /** Asks for a release when a client's messages wait behind one that is overdue or already over. */
  readonly releases: ReleaseRequester;
  readonly reconnectSkewMs: number;
  readonly now?: () => number;
  /** Cloud API calls in flight at once per batch. */
  readonly sendConcurrency?: number;
  /** Holds and probes; without it a refused send only parks its own message. */
  readonly health?: ClientHealthService;
  /** A can-send probe ends a webhook-set OFFBOARDED (stage config; off by default). */
  readonly probeEndsOffboarding?: boolean;
  /** Message outcomes (issue 13): parked and dead-lettered messages, what statuses need after a send. */
  readonly messages?: MessageOutcomeStore;
  /** Relay events (`message.parked`, `message.sent`, `message.dead_lettered`, ...). Default: none. */
  readonly events?: RelayEventPublisher;
}

export interface Item {
  readonly record: OutboundRecord;
  readonly envelope: OutboundEnvelope | null;
  readonly state: ParkState;
  /** Set on an outbound-queue record redriven from a dead letter: the dead letter's `deadLetteredAt`. */
  readonly redriveOf?: string;
  phoneOwner?: PhoneOwner;
  outcome?: Outcome;
}

const keyOf = (e: OutboundEnvelope): MessageKey => ({ wabaId: e.wabaId, messageId: e.messageId });

/**
 * Processes one SQS batch. Returns the ids of the records that must come back (partial batch response); every other
 * record was sent, parked (the delay-queue send succeeded), dead-lettered (the dead-letter send succeeded), or found
 * final (another copy of its message was sent, dead-lettered or replaced).
 */
export class OutboundService {
  readonly #o: OutboundServiceOptions & { now: () => number };
  readonly #sendDeps: SendStepDeps;

  constructor(options: OutboundServiceOptions) {
    this.#o = { now: Date.now, ...options };
    const { ledger, tokens, cloudApi, telemetry, now } = this.#o;
    this.#sendDeps = {
      ledger,
      tokens,
      cloudApi,
      telemetry,
      now,
      policy: this.#o,
      ...(options.messages ? { messages: options.messages } : {}),
      ...(options.events ? { events: options.events } : {}),
    };
  }

  async processBatch(records: readonly OutboundRecord[]): Promise<{ failedIds: string[] }> {
    const nowMs = this.#o.now();
    // The batch's relay events go out together when it settles (one SNS request per ten).
    const events = this.#sendDeps.events ? new EventBuffer(this.#sendDeps.events, this.#o.telemetry) : null;
    const deps: SendStepDeps = events ? { ...this.#sendDeps, events } : this.#sendDeps;
    const items = records.map((record) => this.#parse(record, nowMs));
    const valid = items.filter((i) => i.envelope !== null);
    const envelopes = valid.map((i) => i.envelope as OutboundEnvelope);
    const wabaIds = [...new Set(envelopes.map((e) => e.wabaId))];
    let run: BatchFollowUp | null = null;
    if (wabaIds.length > 0) {
      try {
        // Automated messages also read when the owner last answered their customer (a human hold); others read nothing more.
        const customers = envelopes.filter((e) => e.automated === true).map(customerOf);
        // The ledger is read up front only where the gate cannot settle it: copies from the delay queue and redrives.
        const ledgerKeys = valid.filter(readsLedgerFirst).map((i) => keyOf(i.envelope as OutboundEnvelope));
        const context = await this.#o.statuses.readBatch(wabaIds, [...new Set(envelopes.map((e) => e.phoneNumberId))], ledgerKeys, customers);
        const policy = { reconnectSkewMs: this.#o.reconnectSkewMs, probeEndsOffboarding: this.#o.probeEndsOffboarding ?? false };
        const gates = new Map(wabaIds.map((w) => [w, clientGate(context.latest.get(w) ?? {}, context.health.get(w) ?? {}, nowMs, policy)]));
        run = { gates, context, held: new Set(), started: new Map<string, HoldRecord>(), behind: new Set() };
        await this.#plan(valid, run, nowMs, deps);
      } catch (error) {
        this.#o.telemetry.error('client status read failed; batch retried', { error: String(error), clients: wabaIds.length });
        for (const i of valid) i.outcome ??= { kind: 'retry-later' };
      }
    }
    const failedIds = await settleBatch(this.#o, deps, items, nowMs, run?.context.phoneNumbers ?? new Map());
    await events?.flush();
    if (run) {
      // After the parks are durable: probe held clients (a can-send answer releases what was just parked).
      await probeHeld(this.#o, run);
      if (run.behind.size > 0) await checkReleases(this.#o, run.behind, run.context.releases, nowMs);
    }
    return { failedIds };
  }

  #parse(record: OutboundRecord, nowMs: number): Item {
    // Park state is the relay's own: only the delay queue's attributes count.
    const state = record.fromDelayQueue ? readParkState(record.attributes, nowMs) : FRESH;
    if (!record.fromDelayQueue && Object.values(PARK_ATTRIBUTES).some((a) => record.attributes[a] !== undefined)) {
      this.#o.telemetry.warn('park attributes on an outbound-queue message ignored', { sqsMessageId: record.id });
    }
    const redriveOf = record.fromDelayQueue ? undefined : record.attributes[REDRIVE_ATTRIBUTE];
    const parsed = parseEnvelope(record.body);
    if (parsed.ok) return { record, envelope: parsed.envelope, state, ...(redriveOf ? { redriveOf } : {}) };
    this.#o.telemetry.warn('invalid envelope dead-lettered', { sqsMessageId: record.id, problem: parsed.problem });
    // Nothing identifies the message: no claim to take, its dead letter is all there is.
    return { record, envelope: null, state, outcome: deadLetterOutcome(record, null, state, { reason: 'invalid-envelope', detail: parsed.problem }, null, nowMs) };
  }

  /**
   * The gate for each message, then the sends (one pilot per client first), then the repeats of a message.
   * A fresh record the gate sends is not looked up in the ledger (its claim refuses a finished message, saying why);
   * one it would park or dead-letter is, first (one read for all): a final message is never parked or dead-lettered.
   */
  async #plan(valid: readonly Item[], run: BatchFollowUp, nowMs: number, deps: SendStepDeps): Promise<void> {
    const toSend: Item[] = [];
    const toDeadLetter: { item: Item; decision: Extract<GateDecision, { action: 'dead-letter' }> }[] = [];
    const decided: { item: Item; decision: GateDecision }[] = [];
    const unread: { item: Item; decision: GateDecision }[] = [];
    for (const item of valid) {
      const envelope = item.envelope as OutboundEnvelope;
      if (readsLedgerFirst(item)) {
        const entry = run.context.ledger.get(messageIdentity(envelope));
        // An operator's redrive of this message's dead letter reopens it: from here on it is a message like any other.
        const reopened = entry?.state === 'DEAD_LETTERED' && item.redriveOf !== undefined && (await this.#reopen(envelope, item.redriveOf));
        // Another copy of this message finished it (sent, dead-lettered, replaced): acknowledge, never act again.
        if (entry && isFinal(entry.state) && !reopened) {
          item.outcome = { kind: 'done', final: true };
          continue;
        }
      }
      const owner = run.context.phoneOwners.get(envelope.phoneNumberId);
      if (owner !== undefined) item.phoneOwner = owner;
      const decision = decide(item, run.gates.get(envelope.wabaId) as ClientGate, run, nowMs, this.#o);
      (decision.action === 'send' || readsLedgerFirst(item) ? decided : unread).push({ item, decision });
    }
    if (unread.length > 0) {
      const final = await finalOnes(this.#o.statuses, unread.map(({ item }) => item.envelope as OutboundEnvelope));
      for (const u of unread) {
        if (final.has(messageIdentity(u.item.envelope as OutboundEnvelope))) u.item.outcome = { kind: 'done', final: true };
        else decided.push(u);
      }
    }
    for (const { item, decision: d } of decided) {
      noteDecision(this.#o.telemetry, item, d, run);
      if (d.action === 'send') toSend.push(item);
      else if (d.action === 'park') item.outcome = this.#park(item, d, nowMs);
      else toDeadLetter.push({ item, decision: d });
    }
    await mapLimit(toDeadLetter, 10, async ({ item, decision }) => {
      item.outcome = await this.#claimAndDeadLetter(item, decision, nowMs, deps);
    });
    // The same message twice in one batch (a duplicate enqueue): send the first, settle the others by its outcome.
    const firsts = new Map<string, Item>();
    const repeats: Item[] = [];
    for (const item of toSend) {
      const id = messageIdentity(item.envelope as OutboundEnvelope);
      if (firsts.has(id)) repeats.push(item);
      else firsts.set(id, item);
    }
    // One message per client goes first (a pilot): when the Cloud API refuses it as if the number were not connected,
    // the client's other messages in this batch park without a call. One refused call per episode. Each client's lane
    // waits for its own pilot only, never for another client's.
    const lanes = new Map<string, Item[]>();
    for (const item of firsts.values()) {
      const w = (item.envelope as OutboundEnvelope).wabaId;
      const lane = lanes.get(w);
      if (lane) lane.push(item);
      else lanes.set(w, [item]);
    }
    const sendOne = async (item: Item) => {
      try {
        item.outcome = await this.#send(item, run, nowMs, deps);
      } catch (error) {
        // Whatever failed, this record alone comes back; the send claim keeps a sent message from going twice.
        this.#o.telemetry.error('send step failed; message retried', { sqsMessageId: item.record.id, error: String(error) });
        item.outcome = { kind: 'retry-later' };
      }
    };
    const slot = limiter(this.#o.sendConcurrency ?? 10);
    await Promise.all(
      [...lanes.values()].map(async ([pilot, ...followers]) => {
        await slot(() => sendOne(pilot as Item));
        await Promise.all(followers.map((item) => slot(() => sendOne(item))));
      }),
    );
    for (const item of repeats) {
      const first = firsts.get(messageIdentity(item.envelope as OutboundEnvelope));
      const settled = first?.outcome?.kind === 'done';
      item.outcome = settled ? { kind: 'done', final: true } : { kind: 'retry-later' };
    }
  }

  async #reopen(envelope: OutboundEnvelope, deadLetteredAt: string): Promise<boolean> {
    const reopened = await this.#o.ledger.reopen(keyOf(envelope), deadLetteredAt);
    this.#o.telemetry.count(reopened ? 'DeadLettersRedriven' : 'RedrivesRefused');
    this.#o.telemetry.info(reopened ? 'dead letter redriven: the message may be sent again' : 'redrive names another dead letter of this message; acknowledged', {
      ...keyOf(envelope),
      deadLetteredAt,
    });
    return reopened;
  }

  /** The send policy's gate for one message, with what this batch learnt (a client held by an earlier send), counted. */
  #gate(item: Item, client: ClientGate, run: BatchFollowUp, nowMs: number): GateDecision {
    const d = decide(item, client, run, nowMs, this.#o);
    noteDecision(this.#o.telemetry, item, d, run);
    return d;
  }

  async #send(item: Item, run: BatchFollowUp, nowMs: number, deps: SendStepDeps): Promise<Outcome> {
    const envelope = item.envelope as OutboundEnvelope;
    const { telemetry } = this.#o;
    const log = { ...keyOf(envelope), sqsMessageId: item.record.id };
    const client = run.gates.get(envelope.wabaId) as ClientGate;
    // Held by an earlier send of this batch: the gate, asked again, parks it (no call); a fresh record is looked up first.
    if (run.held.has(envelope.wabaId)) {
      if (!readsLedgerFirst(item) && (await finalOnes(this.#o.statuses, [envelope])).size > 0) return { kind: 'done', final: true };
      return this.#carryOut(item, this.#gate(item, client, run, nowMs), nowMs, deps);
    }
    let r: SendStepResult;
    try {
      r = await sendOnce(deps, envelope, item.state, {
        // Held by a concurrent send of this batch while this one was claiming: the gate, asked again, says so.
        beforeCall: async () => (run.held.has(envelope.wabaId) ? this.#gate(item, client, run, nowMs) : SEND),
      });
    } catch (error) {
      if (error instanceof NoTokenError) {
        // Configuration, not an outage: retrying cannot help until someone sets the token.
        telemetry.error('no Cloud API token for this client; dead-lettered', log);
        return this.#claimAndDeadLetter(item, { reason: 'no-access-token', detail: error.message }, nowMs, deps);
      }
      telemetry.error('send preparation failed; message retried', { ...log, error: String(error) });
      return { kind: 'retry-later' };
    }
    switch (r.kind) {
      case 'final':
        telemetry.info('message already final; not acting again', { ...log, state: r.state });
        return { kind: 'done', final: true };
      case 'in-flight':
        telemetry.info('another worker is acting on this message; retried later', log);
        return { kind: 'retry-later' };
      case 'gated':
        if (r.decision.action === 'dead-letter') return deadLetterOutcome(item.record, envelope, item.state, r.decision, r.claim, nowMs);
        return this.#carryOut(item, r.decision, nowMs, deps);
      case 'sent':
        telemetry.info('message sent', { ...log, wamid: r.wamid, parkCount: item.state.parkCount });
        return { kind: 'done', sent: true, ambiguousResend: r.resend, learnPhone: item.phoneOwner === undefined };
      case 'answered': {
        const a = r.action;
        const apiError = r.result.kind === 'http-error' ? { ...(r.result.error ?? {}), httpStatus: r.result.status } : undefined;
        if (a.action === 'hold') {
          telemetry.count('CloudApiRefusedCalls');
          await tripHold(this.#o, run, envelope, r.result.kind === 'http-error' ? r.result.error : null, r.verdictWhy, a.reason);
          telemetry.count('ParkedByCloudApiHint');
          telemetry.info('Cloud API says the client cannot send; parking', { ...log, why: r.verdictWhy, reason: a.reason });
          return this.#park(item, a, nowMs);
        }
        if (a.action === 'retry') {
          telemetry.count('SendRetries');
          telemetry.info('send failed; retrying later', { ...log, why: r.verdictWhy, attempts: a.next.sendAttempts });
          // Backing off is not parking: no park counters; the message keeps its parked copy, if it has one.
          return { kind: 'park', firstPark: false, writeCopy: false, message: this.#requeue(item, a.next, a.delaySeconds) };
        }
        telemetry.warn('Cloud API answer dead-letters the message', { ...log, why: r.verdictWhy, fbtraceId: apiError?.fbtraceId });
        return deadLetterOutcome(item.record, envelope, a.state, a, r.claim, nowMs, a.reason === 'expired' ? undefined : apiError);
      }
    }
  }

  /** A gate decision other than send, for a message already claimed or never claimed. */
  async #carryOut(item: Item, d: GateDecision, nowMs: number, deps: SendStepDeps): Promise<Outcome> {
    if (d.action === 'park') return this.#park(item, d, nowMs);
    if (d.action === 'dead-letter') return this.#claimAndDeadLetter(item, d, nowMs, deps);
    return { kind: 'retry-later' };
  }

  /** Dead-letters a message the relay has not claimed yet: claimed first, so no other copy acts meanwhile. */
  async #claimAndDeadLetter(item: Item, d: { readonly reason: DeadLetterBody['reason']; readonly detail: string }, nowMs: number, deps: SendStepDeps): Promise<Outcome> {
    const envelope = item.envelope as OutboundEnvelope;
    const c = await claimToDeadLetter(deps, keyOf(envelope));
    if ('final' in c) return { kind: 'done', final: true };
    if ('inFlight' in c) return { kind: 'retry-later' };
    return deadLetterOutcome(item.record, envelope, item.state, d, c.claim, nowMs);
  }

  #park(item: Item, d: { readonly delaySeconds: number; readonly next: ParkState }, _nowMs: number): Outcome {
    return { kind: 'park', firstPark: item.state.parkCount === 0, writeCopy: !item.state.parkedCopy, message: this.#requeue(item, d.next, d.delaySeconds) };
  }

  /** The record again, through the delay queue, carrying its park state and when it was first enqueued. */
  #requeue(item: Item, next: ParkState, delaySeconds: number) {
    const firstEnqueuedMs = item.state.firstEnqueuedMs ?? item.record.sentTimestampMs ?? this.#o.now();
    return { id: item.record.id, body: item.record.body, delaySeconds, attributes: parkAttributes({ ...next, firstEnqueuedMs }) };
  }
}

const SEND: GateDecision = { action: 'send' };
