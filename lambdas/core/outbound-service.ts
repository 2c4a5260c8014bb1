import { type ClientGate, clientGate, type HoldRecord } from './client-health.js';
import type { ClientHealthService } from './client-health-service.js';
import type { CloudApiError } from './cloud-api-result.js';
import { mapLimit } from './concurrency.js';
import { type DeadLetterBody, deadLetterMessage } from './dead-letter.js';
import { type OutboundEnvelope, parseEnvelope } from './envelope.js';
import { NoTokenError } from './errors.js';
import {
  type AfterSendPolicy,
  type DeadLetterReason,
  decideAfterSend,
  decideFor,
  expiry,
  FRESH,
  PARK_ATTRIBUTES,
  parkAttributes,
  parkDecision,
  type ParkState,
  readParkState,
} from './outbound-decision.js';
import type { MessageKey, SendLedger } from './send-ledger.js';
import { publish, recordOutcomeEvent, type SendStepDeps, type SendStepResult, sendOnce } from './send-step.js';
import type {
  ActivityRecorder,
  BatchContext,
  BatchContextReader,
  ClientActivity,
  CloudApi,
  OutboundQueues,
  ParkedCopy,
  ParkedRef,
  ParkedStore,
  PhoneOwner,
  PhoneOwnership,
  QueueMessage,
  MessageOutcomeStore,
  RelayEventPublisher,
  ReleaseRequester,
  Telemetry,
  TokenProvider,
} from './ports.js';
import type { OutcomeEntry } from './message-outcome.js';
import { behindRelease, PARKED_COPY_MAX_BODY_BYTES, parkedOrderKey, releaseOverdue } from './release-rules.js';

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
  readonly activity: ActivityRecorder;
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

/** What one batch learns about its clients while it runs. */
interface RunContext {
  readonly gates: ReadonlyMap<string, ClientGate>;
  readonly context: BatchContext;
  /** Clients whose send was refused as if not connected during this batch: their other messages park at once. */
  readonly held: Set<string>;
  /** Holds this batch started (to probe right after). */
  readonly started: Map<string, HoldRecord>;
}

type Outcome =
  | { kind: 'done'; sent?: boolean; ambiguousResend?: boolean; learnPhone?: boolean }
  | { kind: 'park'; message: QueueMessage; newlyParked: boolean }
  | { kind: 'dead-letter'; message: QueueMessage; reason: DeadLetterReason; detail: string }
  | { kind: 'retry-later' };

interface Item {
  readonly record: OutboundRecord;
  readonly envelope: OutboundEnvelope | null;
  readonly state: ParkState;
  /** The phone number's known owner when the batch was read. */
  phoneOwner?: PhoneOwner;
  outcome?: Outcome;
}

/** Groups messages by identity: the same `messageId` under two WABAs is two messages. */
const identity = (e: MessageKey): string => `${e.wabaId}\u0000${e.messageId}`;
const keyOf = (e: OutboundEnvelope): MessageKey => ({ wabaId: e.wabaId, messageId: e.messageId });

/**
 * Processes one SQS batch: a status read per distinct client, then send, park or dead-letter for each message.
 * Returns the ids of the records that must come back (partial batch response); every other record was sent,
 * parked (the delay-queue send succeeded) or dead-lettered (the dead-letter send succeeded).
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
      ...(options.messages ? { messages: options.messages } : {}),
      ...(options.events ? { events: options.events } : {}),
    };
  }

  async processBatch(records: readonly OutboundRecord[]): Promise<{ failedIds: string[] }> {
    const nowMs = this.#o.now();
    const items: Item[] = records.map((record) => {
      const parsed = parseEnvelope(record.body);
      // Park state is the relay's own: only the delay queue's attributes count.
      const state = record.fromDelayQueue ? readParkState(record.attributes, nowMs) : FRESH;
      if (!record.fromDelayQueue && Object.values(PARK_ATTRIBUTES).some((a) => record.attributes[a] !== undefined)) {
        this.#o.telemetry.warn('park attributes on an outbound-queue message ignored', { sqsMessageId: record.id });
      }
      if (!parsed.ok) {
        this.#o.telemetry.warn('invalid envelope dead-lettered', { sqsMessageId: record.id, problem: parsed.problem });
        return { record, envelope: null, state, outcome: this.#deadLetter(record, null, state, 'invalid-envelope', parsed.problem, nowMs) };
      }
      return { record, envelope: parsed.envelope, state };
    });

    const valid = items.filter((i) => i.envelope !== null);
    const wabaIds = [...new Set(valid.map((i) => (i.envelope as OutboundEnvelope).wabaId))];
    const phoneNumberIds = [...new Set(valid.map((i) => (i.envelope as OutboundEnvelope).phoneNumberId))];
    let ctx: RunContext | null = null;
    if (wabaIds.length > 0) {
      try {
        const context = await this.#o.statuses.readBatch(wabaIds, phoneNumberIds);
        const policy = { reconnectSkewMs: this.#o.reconnectSkewMs, probeEndsOffboarding: this.#o.probeEndsOffboarding ?? false };
        const gates = new Map(wabaIds.map((w) => [w, clientGate(context.latest.get(w) ?? {}, context.health.get(w) ?? {}, nowMs, policy)]));
        ctx = { gates, context, held: new Set(), started: new Map() };
        for (const i of valid) {
          const owner = context.phoneOwners.get((i.envelope as OutboundEnvelope).phoneNumberId);
          if (owner) i.phoneOwner = owner;
        }
      } catch (error) {
        this.#o.telemetry.error('client status read failed; batch retried', { error: String(error), clients: wabaIds.length });
        for (const i of valid) i.outcome = { kind: 'retry-later' };
      }
    }

    const heldBehind = new Set<string>();
    if (ctx) {
      const toSend: Item[] = [];
      for (const item of valid) {
        const envelope = item.envelope as OutboundEnvelope;
        const gate = ctx.gates.get(envelope.wabaId) as ClientGate;
        const behind = behindRelease(gate.status, ctx.context.releases.get(envelope.wabaId) ?? NO_RELEASE);
        const d = decideFor(gate, envelope, item.state, nowMs, this.#o, item.phoneOwner, behind);
        if (behind && d.action === 'park') heldBehind.add(envelope.wabaId);
        if (d.cause === 'held') this.#o.telemetry.count('ParkedByHold');
        if (d.cause === 'restricted') this.#o.telemetry.count('ParkedByRestriction');
        if (d.action === 'send') toSend.push(item);
        else if (d.action === 'park') item.outcome = this.#park(item, d.next, d.delaySeconds);
        else {
          if (d.reason === 'phone-number-mismatch') {
            this.#o.telemetry.count('PhoneNumberMismatch');
            this.#o.telemetry.warn('phone number of another WABA; dead-lettered', { ...keyOf(envelope), phoneNumberId: envelope.phoneNumberId, owner: item.phoneOwner?.wabaId });
          }
          item.outcome = this.#deadLetter(item.record, envelope, item.state, d.reason, d.detail, nowMs);
        }
      }
      // The same message twice in one batch (a duplicate enqueue): send the first, settle the others by its outcome
      // instead of letting them race for the claim and come back after a visibility timeout.
      const firsts = new Map<string, Item>();
      const repeats: Item[] = [];
      for (const item of toSend) {
        const id = identity(item.envelope as OutboundEnvelope);
        if (firsts.has(id)) repeats.push(item);
        else firsts.set(id, item);
      }
      // One message per client goes first (a pilot): when the Cloud API refuses it as if the number were not
      // connected, the client's other messages in this batch park without a call. One refused call per episode.
      const pilots = new Map<string, Item>();
      const followers: Item[] = [];
      for (const item of firsts.values()) {
        const w = (item.envelope as OutboundEnvelope).wabaId;
        if (pilots.has(w)) followers.push(item);
        else pilots.set(w, item);
      }
      const run = ctx;
      const sendOne = async (item: Item) => {
        try {
          item.outcome = await this.#send(item, nowMs, run);
        } catch (error) {
          // Whatever failed, this record alone comes back; the send claim keeps a sent message from going twice.
          this.#o.telemetry.error('send step failed; message retried', { sqsMessageId: item.record.id, error: String(error) });
          item.outcome = { kind: 'retry-later' };
        }
      };
      await mapLimit([...pilots.values()], this.#o.sendConcurrency ?? 10, sendOne);
      await mapLimit(followers, this.#o.sendConcurrency ?? 10, sendOne);
      for (const item of repeats) {
        const first = firsts.get(identity(item.envelope as OutboundEnvelope));
        const settled = first?.outcome?.kind === 'done';
        if (settled) this.#o.telemetry.count('DuplicateSuppressed');
        item.outcome = settled ? { kind: 'done' } : { kind: 'retry-later' };
      }
    }

    const failedIds = await this.#complete(items, nowMs);
    // After the parks are durable: probe held clients (a can-send answer releases what was just parked).
    if (ctx) await this.#probe(ctx);
    if (ctx && heldBehind.size > 0) await this.#checkReleases(heldBehind, ctx.context.releases, nowMs);
    return { failedIds };
  }

  /**
   * Messages just parked behind a release: make sure a release will take them. If the release ended meanwhile (its
   * last look came before these copies were written) or shows no sign of life, ask for one. Requests are idempotent.
   */
  async #checkReleases(wabaIds: ReadonlySet<string>, before: ReadonlyMap<string, { readonly drainSince: number | null; readonly beatAt: number | null }>, nowMs: number): Promise<void> {
    const t = this.#o.telemetry;
    try {
      const after = (await this.#o.statuses.readBatch([...wabaIds], [])).releases;
      for (const wabaId of wabaIds) {
        const now = after.get(wabaId) ?? NO_RELEASE;
        const ended = now.drainSince === null;
        const overdue = releaseOverdue(now, nowMs) || releaseOverdue(before.get(wabaId) ?? NO_RELEASE, nowMs);
        if (!ended && !overdue) continue;
        t.count('ReleaseRequestedByConsumer');
        t.info('messages wait behind a release that ended or stalled; asking for one', { wabaId, ended, overdue });
        await this.#o.releases.requestRelease(wabaId, 'status-connected');
      }
    } catch (error) {
      // The copies are written and the delay queue holds the messages: they still go when their hop ends.
      t.error('could not check or request a release; parked messages wait for their delay hop', { error: String(error) });
    }
  }

  /** Probes each client this batch held, and each held client whose probe turn has come. Best effort. */
  async #probe(ctx: RunContext): Promise<void> {
    const health = this.#o.health;
    if (!health) return;
    const nowMs = this.#o.now();
    const due: { wabaId: string; phoneNumberId: string; reason: 'hold-started' | 'hold-backoff'; gate: ClientGate }[] = [];
    for (const [wabaId, hold] of ctx.started) {
      const gate = ctx.gates.get(wabaId) as ClientGate;
      due.push({ wabaId, phoneNumberId: hold.phoneNumberId, reason: 'hold-started', gate: { ...gate, hold: { state: 'in-force', hold } } });
    }
    for (const [wabaId, gate] of ctx.gates) {
      if (ctx.started.has(wabaId) || gate.hold.state !== 'in-force') continue;
      const next = ctx.context.health.get(wabaId)?.nextProbeAtMs;
      if (next === undefined || next <= nowMs) due.push({ wabaId, phoneNumberId: gate.hold.hold.phoneNumberId, reason: 'hold-backoff', gate });
    }
    await mapLimit(due, 4, async (d) => {
      try {
        await health.probe(d.wabaId, d.phoneNumberId, d.reason, { gate: d.gate, health: ctx.context.health.get(d.wabaId) ?? {} });
      } catch (error) {
        this.#o.telemetry.warn('probe failed; the hold stays', { wabaId: d.wabaId, error: String(error) });
      }
    });
  }

  /** A refused send: hold the client at once (one hold per episode, whatever other workers do). */
  async #trip(ctx: RunContext, envelope: OutboundEnvelope, error: CloudApiError | null, why: string): Promise<void> {
    const wabaId = envelope.wabaId;
    const first = !ctx.held.has(wabaId);
    ctx.held.add(wabaId);
    const health = this.#o.health;
    if (!health || !first) return;
    const gate = ctx.gates.get(wabaId) as ClientGate;
    try {
      const hold = await health.tripHold(wabaId, gate.hold, { phoneNumberId: envelope.phoneNumberId, messageId: envelope.messageId, error, why });
      if (hold) ctx.started.set(wabaId, hold);
    } catch (e) {
      // The message still parks; the next refused send tries again.
      this.#o.telemetry.warn('could not record the hold', { wabaId, error: String(e) });
    }
  }

  /** Parks a message because its client was held during this batch (no Cloud API call). */
  #parkHeld(item: Item, nowMs: number): Outcome {
    const envelope = item.envelope as OutboundEnvelope;
    const expired = expiry(envelope, item.state, nowMs, this.#o.maxParkSeconds);
    if (expired) return this.#deadLetter(item.record, envelope, item.state, 'expired', expired, nowMs);
    this.#o.telemetry.count('ParkedByHold');
    const d = parkDecision(item.state, nowMs, this.#o);
    return d.action === 'park' ? this.#park(item, d.next, d.delaySeconds) : { kind: 'retry-later' };
  }

  #park(item: Item, next: ParkState, delaySeconds: number): Outcome {
    return { kind: 'park', newlyParked: item.state.firstParkedAt === null, message: this.#requeue(item, next, delaySeconds) };
  }

  /** The record again, through the delay queue, carrying its park state and when it was first enqueued. */
  #requeue(item: Item, next: ParkState, delaySeconds: number): QueueMessage {
    const firstEnqueuedMs = this.#firstEnqueued(item, this.#o.now());
    return { id: item.record.id, body: item.record.body, delaySeconds, attributes: parkAttributes({ ...next, firstEnqueuedMs }) };
  }

  #deadLetter(
    record: OutboundRecord,
    envelope: OutboundEnvelope | null,
    state: ParkState,
    reason: DeadLetterReason,
    detail: string,
    nowMs: number,
    cloudApiError?: DeadLetterBody['cloudApiError'],
  ): Outcome {
    const m = deadLetterMessage({ reason, detail, nowMs, envelope, rawBody: record.body, state, ...(cloudApiError ? { cloudApiError } : {}) });
    return { kind: 'dead-letter', message: { id: record.id, body: m.body, attributes: m.attributes }, reason, detail };
  }

  async #send(item: Item, nowMs: number, ctx: RunContext): Promise<Outcome> {
    const envelope = item.envelope as OutboundEnvelope;
    const { telemetry } = this.#o;
    const log = { ...keyOf(envelope), sqsMessageId: item.record.id };
    if (ctx.held.has(envelope.wabaId)) return this.#parkHeld(item, nowMs);
    let r: SendStepResult;
    try {
      // Held by a concurrent send of this batch while this one was claiming: no call, the claim is given back.
      r = await sendOnce(this.#sendDeps, envelope, async () => !ctx.held.has(envelope.wabaId));
    } catch (error) {
      if (error instanceof NoTokenError) {
        // Configuration, not an outage: retrying cannot help until someone sets the token. Never claimed.
        telemetry.error('no Cloud API token for this client; dead-lettered', log);
        return this.#deadLetter(item.record, envelope, item.state, 'no-access-token', error.message, nowMs);
      }
      telemetry.error('send preparation failed; message retried', { ...log, error: String(error) });
      return { kind: 'retry-later' };
    }
    switch (r.kind) {
      case 'already-sent':
        telemetry.count('DuplicateSuppressed');
        telemetry.info('already sent; not sending again', { ...log, wamid: r.wamid });
        return { kind: 'done' };
      case 'in-flight':
        telemetry.info('another worker is sending this message; retried later', log);
        return { kind: 'retry-later' };
      case 'aborted':
        return this.#parkHeld(item, nowMs);
      case 'sent':
        telemetry.info('message sent', { ...log, wamid: r.wamid, parkCount: item.state.parkCount });
        return { kind: 'done', sent: true, ambiguousResend: r.resend, learnPhone: item.phoneOwner === undefined };
      case 'not-sent':
        return this.#notSent(item, r, nowMs, ctx, log);
    }
  }

  /** The Cloud API did not take the message: hold the client on a refusal, then park, retry or dead-letter. */
  async #notSent(item: Item, r: Extract<SendStepResult, { kind: 'not-sent' }>, nowMs: number, ctx: RunContext, log: Record<string, unknown>): Promise<Outcome> {
    const envelope = item.envelope as OutboundEnvelope;
    const { telemetry } = this.#o;
    const { verdict, result } = r;
    const apiError = result.kind === 'http-error' ? { ...(result.error ?? {}), httpStatus: result.status } : undefined;
    if (verdict.verdict === 'park') {
      telemetry.count('CloudApiRefusedCalls');
      await this.#trip(ctx, envelope, result.kind === 'http-error' ? result.error : null, verdict.why);
      telemetry.count('ParkedByCloudApiHint');
      telemetry.info('Cloud API says the number is not connected; parking', { ...log, why: verdict.why });
    }
    const d = decideAfterSend(verdict, envelope, item.state, nowMs, this.#o);
    if (verdict.verdict === 'reject') {
      telemetry.warn('Cloud API rejected the message', { ...log, why: verdict.why, fbtraceId: apiError?.fbtraceId });
    } else if (d.action === 'retry') {
      telemetry.count('SendRetries');
      telemetry.info('send failed; retrying later', { ...log, why: verdict.why, attempts: d.next.sendAttempts });
    }
    switch (d.action) {
      case 'park':
        return this.#park(item, d.next, d.delaySeconds);
      case 'retry':
        // Backing off is not parking: no park marker, no park counters.
        return { kind: 'park', newlyParked: false, message: this.#requeue(item, d.next, d.delaySeconds) };
      case 'dead-letter':
        return this.#deadLetter(item.record, envelope, d.state, d.reason, d.detail, nowMs, d.reason === 'expired' ? undefined : apiError);
      default:
        return { kind: 'retry-later' }; // 'sent' cannot follow a not-sent answer
    }
  }

  /**
   * Outcomes of what this batch parked (first park only) and dead-lettered, then their events: one conditional write
   * per message. Best effort: the messages are parked or dead-lettered whatever happens here (counted and logged).
   */
  async #recordOutcomes(items: readonly Item[], failedIds: ReadonlySet<string>, nowMs: number): Promise<void> {
    const { messages, events } = this.#o;
    if (!messages && !events) return;
    const todo: { key: MessageKey; entry: OutcomeEntry }[] = [];
    for (const item of items) {
      const o = item.outcome;
      const env = item.envelope;
      if (!o || !env || failedIds.has(item.record.id)) continue;
      if (o.kind === 'park' && o.newlyParked) todo.push({ key: keyOf(env), entry: { state: 'parked', atMs: nowMs, source: 'relay' } });
      if (o.kind === 'dead-letter') todo.push({ key: keyOf(env), entry: { state: 'dead-lettered', atMs: nowMs, source: 'relay', reason: o.reason, detail: o.detail.slice(0, 500) } });
    }
    if (todo.length === 0) return;
    const out = await mapLimit(todo, 10, ({ key, entry }) => recordOutcomeEvent(this.#sendDeps, key, entry, {}, nowMs));
    await publish(this.#sendDeps, out, { events: out.length });
  }

  /**
   * The durable copies of messages parked for the first time, written before the delay-queue send. A copy that cannot
   * be written leaves its message on the delay-queue path only (it resumes when its hop ends): counted, never lost.
   */
  async #writeCopies(items: readonly Item[], nowMs: number): Promise<void> {
    const copies: ParkedCopy[] = [];
    for (const item of items) {
      const o = item.outcome;
      const env = item.envelope;
      if (o?.kind !== 'park' || !o.newlyParked || !env) continue;
      if (Buffer.byteLength(item.record.body) > PARKED_COPY_MAX_BODY_BYTES) {
        this.#o.telemetry.count('ParkedCopyTooLarge');
        continue;
      }
      const firstEnqueuedMs = this.#firstEnqueued(item, nowMs);
      copies.push({
        wabaId: env.wabaId,
        messageId: env.messageId,
        orderKey: parkedOrderKey(firstEnqueuedMs, env.messageId),
        firstEnqueuedMs,
        firstParkedAt: o.message.attributes?.[PARK_ATTRIBUTES.firstParkedAt] ?? new Date(nowMs).toISOString(),
        phoneNumberId: env.phoneNumberId,
        recipient: env.payload.to,
        parkCount: 1,
        sendAttempts: item.state.sendAttempts,
        rateLimitHits: 0,
        body: item.record.body,
      });
    }
    if (copies.length === 0) return;
    let failed: ReadonlySet<string>;
    try {
      failed = await this.#o.parked.put(copies);
    } catch (error) {
      failed = new Set(copies.map((c) => c.messageId));
      this.#o.telemetry.warn('parked copies not written', { error: String(error) });
    }
    if (failed.size > 0) {
      this.#o.telemetry.count('ParkedCopyWriteFailures', failed.size);
      this.#o.telemetry.warn('parked copies not written; those messages resume when their delay hop ends', { messages: failed.size });
    }
  }

  /** When upstream first enqueued the message: carried by the delay queue, else the outbound queue's SentTimestamp. */
  #firstEnqueued(item: Item, nowMs: number): number {
    return item.state.firstEnqueuedMs ?? item.record.sentTimestampMs ?? nowMs;
  }

  async #complete(items: readonly Item[], nowMs: number): Promise<string[]> {
    await this.#writeCopies(items, nowMs);
    const parks = items.flatMap((i) => (i.outcome?.kind === 'park' ? [i.outcome.message] : []));
    const deadLetters = items.flatMap((i) => (i.outcome?.kind === 'dead-letter' ? [i.outcome.message] : []));
    const [parkFailed, dlFailed] = await Promise.all([
      parks.length > 0 ? this.#o.queues.park(parks) : Promise.resolve(new Set<string>()),
      deadLetters.length > 0 ? this.#o.queues.deadLetter(deadLetters) : Promise.resolve(new Set<string>()),
    ]);
    const failed: string[] = [];
    const activity = new Map<string, { parked: number; sent: number; deadLettered: number; ambiguousResends: number; phoneNumberId?: string }>();
    const act = (wabaId: string) => {
      let a = activity.get(wabaId);
      if (!a) {
        a = { parked: 0, sent: 0, deadLettered: 0, ambiguousResends: 0 };
        activity.set(wabaId, a);
      }
      return a;
    };
    const unparked: ParkedRef[] = [];
    let parked = 0;
    let sent = 0;
    let deadLettered = 0;
    for (const item of items) {
      const o = item.outcome;
      const id = item.record.id;
      if (!o || o.kind === 'retry-later' || (o.kind === 'park' && parkFailed.has(id)) || (o.kind === 'dead-letter' && dlFailed.has(id))) {
        failed.push(id);
        continue;
      }
      const env = item.envelope;
      if (o.kind === 'dead-letter') deadLettered++;
      if (o.kind === 'park') parked++;
      if (o.kind === 'done' && o.sent) sent++;
      if (!env) continue;
      const a = act(env.wabaId);
      // A parked message that left (sent, already sent, dead-lettered): its copy goes.
      a.phoneNumberId = env.phoneNumberId;
      const leftPark = item.state.firstParkedAt !== null && o.kind !== 'park';
      if (leftPark) unparked.push({ wabaId: env.wabaId, orderKey: parkedOrderKey(this.#firstEnqueued(item, nowMs), env.messageId) });
      if (o.kind === 'park' && o.newlyParked) a.parked++;
      if (o.kind === 'done' && o.sent) {
        a.sent++;
        if (o.ambiguousResend) a.ambiguousResends++;
      }
      if (o.kind === 'dead-letter') a.deadLettered++;
    }
    const t = this.#o.telemetry;
    const failedIds = new Set(failed);
    await this.#recordOutcomes(items, failedIds, nowMs);
    t.count('MessagesSent', sent);
    t.count('MessagesParked', parked);
    t.count('MessagesDeadLettered', deadLettered);
    t.count('BatchItemFailures', failed.length);
    for (const item of items) {
      if (!item.state.firstParkedAt || failedIds.has(item.record.id)) continue;
      const age = Math.max(0, Math.round((nowMs - Date.parse(item.state.firstParkedAt)) / 1000));
      // How long parked messages have waited (dashboard). The ClientOffboardedTooLong alarm watches the sweeper's
      // ClientOffboardedSeconds instead, so it fires whether or not a client has messages waiting.
      if (item.outcome?.kind === 'park') t.seconds('ParkAgeSeconds', age);
      if (item.outcome?.kind === 'done' && item.outcome.sent) t.seconds('ResumedAfterParkSeconds', age);
    }
    // A send the Cloud API accepted ties the phone number to the WABA, for numbers nobody has named yet.
    const learnt = new Map<string, string>();
    for (const item of items) {
      if (item.outcome?.kind === 'done' && item.outcome.learnPhone && item.envelope) learnt.set(item.envelope.phoneNumberId, item.envelope.wabaId);
    }
    const learning = [...learnt].map(([phoneNumberId, wabaId]) =>
      this.#o.phones.learn(phoneNumberId, wabaId, 'send', nowMs).catch((error: unknown) => t.warn('phone number owner not recorded', { phoneNumberId, wabaId, error: String(error) })),
    );
    const changes = [...activity.entries()]
      .map(([wabaId, a]) => ({ wabaId, ...a }) satisfies ClientActivity)
      .filter((a) => a.parked + a.sent + a.deadLettered + a.ambiguousResends > 0);
    await Promise.all([
      changes.length > 0
        ? this.#o.activity.record(changes, nowMs).catch((error) => t.warn('client counters not updated', { error: String(error) }))
        : undefined,
      // A copy left behind is harmless: a release finds its message already sent and deletes it then.
      unparked.length > 0 ? this.#o.parked.remove(unparked).catch((error) => t.warn('parked copies not deleted', { error: String(error) })) : undefined,
      ...learning,
    ]);
    if (parkFailed.size + dlFailed.size > 0) t.error('queue send failed; messages kept for retry', { park: parkFailed.size, deadLetter: dlFailed.size });
    return failed;
  }
}

const NO_RELEASE = { drainSince: null, beatAt: null } as const;
