/**
 * Release: sends a client's parked messages the moment it may send again, instead of when each message's delay hop
 * ends. An executor of the send policy (send-policy.ts), like the consumer: it decides nothing itself.
 *
 * One run, for one client:
 * 1. the client's facts (status, hold, restrictions, phone owners: the consumer's batch read): a client that may not
 *    send at all (offboarded, held) starts nothing;
 * 2. the client's release lease (one release per client at a time, so order holds) and the drain flag (new messages
 *    for the client park behind the release instead of overtaking it);
 * 3. the parked copies in order, one lane per recipient (lanes run side by side, a lane sends in order), each send in
 *    a pace slot of its phone number; the gate is asked before the claim and again right after the pace wait, on facts
 *    re-read at least every `statusCheckMs`: a client-wide park stops the run (the rest stays parked), a park of one
 *    kind of message (a restriction) waits that lane, a dead-letter decision dead-letters the message;
 * 4. a copy goes once its message is final (sent, dead-lettered, replaced by its fallback: by this run or any copy);
 * 5. empty: clear the drain flag (only if no newer request set it again), then look once more; anything there: again.
 * Before the time limit, or when a recipient must wait, the run queues its own continuation (release-end.ts).
 */
import { randomUUID } from 'node:crypto';
import { clientGate, type ClientGate } from '../health/client-health.js';
import type { ClientHealthService } from '../health/client-health-service.js';
import { mapLimit } from '../shared/concurrency.js';
import { type DeadLetterBody, deadLetterMessage } from '../outbound/dead-letter.js';
import { type OutboundEnvelope, parseEnvelope } from '../outbound/envelope.js';
import { NoTokenError } from '../shared/errors.js';
import type { AfterSendPolicy, DeadLetterReason, ParkState } from '../outbound/outbound-decision.js';
import type { CallWindow } from './pacing.js';
import type { ActivityRecorder, BatchContext, BatchContextReader, CloudApi, OutboundQueues, TokenProvider } from '../outbound/ports.js';
import type { MessageOutcomeStore, RelayEventPublisher } from '../outcomes/ports.js';
import type { Pacer, ParkedCopy, ParkedStore, ReleaseProgress, ReleaseQueue, ReleaseRequest, ReleaseStore, StoredParkedCopy } from './ports.js';
import type { Telemetry } from '../shared/telemetry.js';
import { type EndDeps, finishRound, type ReleaseRunResult, type RunState, refOf, bump, iso, clampDelay, laneOf, pauseRun, stopRun, flush, withoutReason, forget } from './release-end.js';
import { relayEvent } from '../outcomes/relay-events.js';
import { type GateDecision, gate } from '../outbound/send-policy.js';
import { claimToDeadLetter, type HeldClaim, publish, recordOutcome, settle, settleDeadLetter, type SendStepDeps, sendOnce } from '../outbound/send-step.js';
import type { SendLedger } from '../outbound/send-ledger.js';

export type { ReleaseOutcome, ReleaseRunResult } from './release-end.js';
export { parseReleaseRequest } from './release-request.js';
export { parkedOrderKey } from './release-rules.js';

export interface ReleaseServiceOptions extends Partial<Pick<AfterSendPolicy, 'parkDelaySchedule' | 'random'>> {
  readonly parked: ParkedStore;
  readonly control: ReleaseStore;
  /** The client's facts for the gate: the consumer's batch read (status item, phone owners). */
  readonly statuses: BatchContextReader;
  readonly requests: ReleaseQueue;
  readonly pacer: Pacer;
  /** This process's call log per phone number (one per process: share it between services). */
  readonly callWindow: CallWindow;
  readonly ledger: SendLedger;
  readonly tokens: TokenProvider;
  readonly cloudApi: CloudApi;
  readonly queues: Pick<OutboundQueues, 'deadLetter'>;
  /** The client's message counters (sent, dead-lettered), as the consumer keeps them. */
  readonly activity: ActivityRecorder;
  readonly telemetry: Telemetry;
  readonly maxSendAttempts: number;
  readonly maxParkSeconds: number;
  readonly reconnectSkewMs: number;
  /** A can-send probe ends a webhook-set OFFBOARDED (stage config; off by default), as for the consumer. */
  readonly probeEndsOffboarding?: boolean;
  /** Holds and probes: a refused send holds the client, as in the consumer. */
  readonly health?: ClientHealthService;
  /** The client's facts are read again at least this often while sending (default 250 ms). */
  readonly statusCheckMs?: number;
  /** Copies read per page (default 100). */
  readonly pageSize?: number;
  /** How long the release lease lasts without a heartbeat (default 90 s; longer than the releaser's time limit). */
  readonly leaseMs?: number;
  /** Progress is written (and the lease renewed) at most this often (default 1 s). */
  readonly heartbeatMs?: number;
  /** Recipient lanes sending at once (default 16). */
  readonly laneConcurrency?: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Message outcomes (issue 13): dead-lettered messages, what statuses need after a send. */
  readonly messages?: MessageOutcomeStore;
  /** Relay events (`message.released`, `message.sent`, `message.dead_lettered`). Default: none. */
  readonly events?: RelayEventPublisher;
}

/** Longest one backoff after a throughput answer (130429) before the same message is tried again. */
const THROUGHPUT_BACKOFF_MAX_MS = 8_000;
/** The release never parks a message itself: the schedule only fills the gate's park step, which it ignores. */
const NO_SCHEDULE = [60] as const;

type Options = EndDeps &
  Required<Pick<ReleaseServiceOptions, 'statusCheckMs' | 'pageSize' | 'leaseMs' | 'heartbeatMs' | 'laneConcurrency' | 'sleep'>> &
  ReleaseServiceOptions & { readonly now: () => number };

export class ReleaseService {
  readonly #o: Options;
  readonly #send: SendStepDeps;

  constructor(options: ReleaseServiceOptions) {
    this.#o = { statusCheckMs: 250, pageSize: 100, leaseMs: 90_000, heartbeatMs: 1_000, laneConcurrency: 16, now: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)), ...options };
    const policy: AfterSendPolicy = {
      parkDelaySchedule: options.parkDelaySchedule ?? NO_SCHEDULE,
      maxParkSeconds: options.maxParkSeconds,
      maxSendAttempts: options.maxSendAttempts,
      ...(options.random ? { random: options.random } : {}),
    };
    this.#send = {
      ledger: options.ledger,
      tokens: options.tokens,
      cloudApi: options.cloudApi,
      telemetry: options.telemetry,
      now: this.#o.now,
      policy,
      ...(options.messages ? { messages: options.messages } : {}),
      ...(options.events ? { events: options.events } : {}),
    };
  }

  /**
   * Runs one release for `request.wabaId` until it is done, stopped, or `deadlineMs` (epoch ms) comes near; then it
   * queues its continuation. Throws only when something that must be durable could not be written (the request then
   * comes back from the queue).
   */
  async run(request: ReleaseRequest, deadlineMs = Number.POSITIVE_INFINITY): Promise<ReleaseRunResult> {
    const { control, telemetry } = this.#o;
    const wabaId = request.wabaId;
    const log = { wabaId, trigger: request.trigger };
    const [first, context] = await Promise.all([control.read(wabaId), this.#o.statuses.readBatch([wabaId], [])]);
    const client = this.#client(context, wabaId);
    const cannot = clientWide(client);
    const releaseId = randomUUID();
    const nowMs = this.#o.now();
    if (cannot) {
      // Nothing may be sent; the gate may still dead-letter some messages whatever the client's state (a phone number
      // of another WABA, a deadline passed), as the consumer does at their next hop. No lease: nothing is sent.
      const swept = await this.#sweep(this.#newRun(request, releaseId, first.lastRelease, context, nowMs, deadlineMs), cannot);
      telemetry.info('release not started: client may not send', { ...log, status: client.status, why: cannot, deadLettered: swept });
      return { outcome: 'not-connected', progress: first.lastRelease };
    }
    const previous = first.lastRelease;
    const continuing = request.continuationOf !== undefined && previous?.releaseId === request.continuationOf;
    const { count } = await this.#o.parked.summary(wabaId);
    const startProgress = continuing && previous
      ? { ...previous, releaseId, state: 'running' as const, updatedAt: iso(nowMs), left: count }
      : { releaseId, trigger: request.trigger, state: 'running' as const, startedAt: iso(nowMs), updatedAt: iso(nowMs), total: count, sent: 0, deadLettered: 0, alreadySent: 0, left: count };
    const begun = await control.begin(wabaId, releaseId, nowMs, this.#o.leaseMs, withoutReason(startProgress));
    if (!begun.ok) {
      const delay = clampDelay(Math.ceil((begun.leaseUntilMs - nowMs) / 1000) + 1);
      await this.#o.requests.enqueue({ ...request, requestedAt: iso(nowMs) }, delay);
      telemetry.info('another release holds the client; request queued again', { ...log, delaySeconds: delay });
      return { outcome: 'busy', progress: null };
    }
    telemetry.count('ReleasesStarted');
    telemetry.info('release started', { ...log, releaseId, parked: count, continuing });
    const run = this.#newRun(request, releaseId, withoutReason(startProgress), context, nowMs, deadlineMs);
    run.drainSince = begun.drainSince;
    const watch = this.#watch(run);
    try {
      for (let round = 0; ; round++) {
        await this.#drain(run);
        if (run.stop) return await stopRun(this.#o, run);
        if (run.blocked.size + run.restricted.size > 0) return await pauseRun(this.#o, run);
        const done = await finishRound(this.#o, run);
        if (done) return done;
        if (round > 1000) throw new Error('release did not settle');
      }
    } catch (error) {
      // Give the lease back so the request, when it comes back from the queue, resumes at once (a crash cannot do
      // this: then the lease runs out first). The send ledger keeps anything already final from being acted on again.
      await flush(this.#o, run).catch(() => undefined);
      await control.finish(wabaId, releaseId, { ...run.progress, updatedAt: iso(this.#o.now()), reason: 'error' }, null).catch(() => undefined);
      telemetry.count('ReleaseErrors');
      throw error;
    } finally {
      watch.stop();
    }
  }

  #newRun(request: ReleaseRequest, releaseId: string, progress: ReleaseProgress | null, context: BatchContext, nowMs: number, deadlineMs: number): RunState {
    const p = progress ?? { releaseId, trigger: request.trigger, state: 'running', startedAt: iso(nowMs), updatedAt: iso(nowMs), total: 0, sent: 0, deadLettered: 0, alreadySent: 0, left: 0 };
    return {
      request,
      releaseId,
      drainSince: 0,
      progress: p,
      stop: null,
      blocked: new Map(),
      restricted: new Map(),
      phonePausedUntil: new Map(),
      toRemove: [],
      recorded: { sent: p.sent, deadLettered: p.deadLettered },
      lastBeat: nowMs,
      deadlineMs,
      facts: { atMs: nowMs, context, phones: new Set(), pending: null },
    };
  }

  /**
   * The client may not send: only what the gate dead-letters whatever the client's state goes (claimed first, so a
   * copy acting at the same time is safe); everything else stays parked. Returns how many were dead-lettered.
   */
  async #sweep(run: RunState, why: string): Promise<number> {
    const before = run.progress.deadLettered;
    let cursor: string | undefined;
    do {
      const page = await this.#o.parked.list(run.request.wabaId, this.#o.pageSize, cursor);
      cursor = page.cursor ?? undefined;
      const copies = page.items.flatMap((i) => (i.ok ? [i.copy] : []));
      const phones = copies.map((c) => c.phoneNumberId).filter((p) => !run.facts.phones.has(p));
      if (phones.length > 0) {
        for (const p of phones) run.facts.phones.add(p);
        await this.#refresh(run);
      }
      for (const copy of copies) {
        const parsed = parseEnvelope(copy.body);
        if (!parsed.ok) continue; // a release dead-letters it once the client may send
        const state = copyState(copy);
        const d = this.#decide(run, parsed.envelope, state);
        if (d.action === 'dead-letter') await this.#claimAndDeadLetter(run, copy, parsed.envelope, state, d);
      }
    } while (cursor && this.#o.now() < run.deadlineMs);
    await flush(this.#o, run);
    const dead = run.progress.deadLettered - before;
    if (dead > 0) this.#o.telemetry.info('client may not send; dead-lettered what may never go', { wabaId: run.request.wabaId, why, deadLettered: dead });
    return dead;
  }

  #client(context: BatchContext, wabaId: string): ClientGate {
    const policy = { reconnectSkewMs: this.#o.reconnectSkewMs, probeEndsOffboarding: this.#o.probeEndsOffboarding ?? false };
    return clientGate(context.latest.get(wabaId) ?? {}, context.health.get(wabaId) ?? {}, this.#o.now(), policy);
  }

  /** Re-reads the client's facts every `statusCheckMs` while the run lasts: a client-wide stop halts it at once. */
  #watch(run: RunState): { stop(): void } {
    let active = true;
    void (async () => {
      while (active) {
        await this.#o.sleep(Math.max(this.#o.statusCheckMs, 25));
        if (!active) break;
        await this.#refresh(run).catch(() => undefined);
        const why = clientWide(this.#client(run.facts.context, run.request.wabaId));
        if (why) halt(run, 'status', why);
      }
    })();
    return {
      stop: () => {
        active = false;
      },
    };
  }

  /** The client's facts (and the owners of every phone number met so far), read again now; one read in flight at most. */
  async #refresh(run: RunState): Promise<void> {
    const f = run.facts;
    f.pending ??= this.#o.statuses
      .readBatch([run.request.wabaId], [...f.phones])
      .then((context) => {
        f.context = context;
        f.atMs = this.#o.now();
      })
      .finally(() => {
        f.pending = null;
      });
    return f.pending;
  }

  /** The gate for one message on the facts as last read (no I/O: the watcher keeps them fresh). */
  #decide(run: RunState, envelope: OutboundEnvelope, state: ParkState): GateDecision {
    const facts = { client: this.#client(run.facts.context, run.request.wabaId), phoneOwner: run.facts.context.phoneOwners.get(envelope.phoneNumberId) };
    return gate(facts, envelope, state, this.#o.now(), this.#send.policy);
  }

  /** Sends page after page until the set is empty (apart from waiting recipients) or the run must stop. */
  async #drain(run: RunState): Promise<void> {
    const wabaId = run.request.wabaId;
    let cursor: string | undefined;
    do {
      const page = await this.#o.parked.list(wabaId, this.#o.pageSize, cursor);
      cursor = page.cursor ?? undefined;
      // The owners of phone numbers this run has not met yet: read before any of their messages is decided.
      const phones = page.items.flatMap((i) => (i.ok && !run.facts.phones.has(i.copy.phoneNumberId) ? [i.copy.phoneNumberId] : []));
      if (phones.length > 0 || this.#o.now() - run.facts.atMs >= this.#o.statusCheckMs) {
        for (const p of phones) run.facts.phones.add(p);
        await this.#refresh(run);
      }
      // One lane per recipient (phone number + `to`): a lane sends in order; lanes run side by side, and the pace slots
      // of each phone number keep their sum under the rate.
      const lanes = new Map<string, StoredParkedCopy[]>();
      for (const item of page.items) {
        const lane = item.ok ? laneOf(item.copy) : '';
        lanes.set(lane, [...(lanes.get(lane) ?? []), item]);
      }
      await mapLimit([...lanes.values()], this.#o.laneConcurrency, async (items) => {
        for (const item of items) {
          if (run.stop) return;
          if (this.#o.now() >= run.deadlineMs) return halt(run, 'deadline', 'time-limit');
          try {
            await this.#one(run, item);
            await this.#beat(run);
          } catch (error) {
            halt(run, 'error', 'error'); // every lane stops: the run fails and its request comes back
            throw error;
          }
        }
      });
      await flush(this.#o, run);
      if (run.stop) return;
    } while (cursor);
  }

  async #one(run: RunState, item: StoredParkedCopy): Promise<void> {
    if (!item.ok) {
      this.#o.telemetry.warn('unreadable parked copy dead-lettered', { wabaId: item.wabaId, orderKey: item.orderKey, problem: item.problem });
      return this.#deadLetter(run, item, null, item.raw, FRESH_STATE, { reason: 'invalid-envelope', detail: `parked copy unreadable: ${item.problem}` }, null);
    }
    const copy = item.copy;
    const state = copyState(copy);
    const parsed = parseEnvelope(copy.body);
    if (!parsed.ok) return this.#claimAndDeadLetter(run, copy, null, state, { reason: 'invalid-envelope', detail: parsed.problem });
    const envelope = parsed.envelope;
    const lane = laneOf(copy);
    if (run.blocked.has(lane) || run.restricted.has(lane)) return; // an earlier message to this recipient waits: so do the later ones
    const d = this.#decide(run, envelope, state);
    if (d.action !== 'send') return this.#notNow(run, copy, envelope, state, d, null);
    for (let throttled = 0; ; throttled++) {
      let r: Awaited<ReturnType<typeof sendOnce>>;
      try {
        r = await sendOnce(this.#send, envelope, state, { beforeCall: () => this.#slotThenGate(run, copy, envelope, state) });
      } catch (error) {
        if (!(error instanceof NoTokenError)) throw error;
        // Configuration, not an outage: like the consumer, dead-letter it.
        this.#o.telemetry.error('no Cloud API token for this client; dead-lettered', { wabaId: copy.wabaId, messageId: copy.messageId });
        return this.#claimAndDeadLetter(run, copy, envelope, state, { reason: 'no-access-token', detail: error.message });
      }
      const log = { wabaId: copy.wabaId, messageId: copy.messageId };
      switch (r.kind) {
        case 'final':
          return this.#alreadyFinal(run, copy);
        case 'in-flight':
          // Another copy is being acted on right now (its delay-queue copy): this recipient waits until that settles.
          return block(run, lane, this.#o.now() + 2_000);
        case 'gated':
          return run.stop ? undefined : this.#notNow(run, copy, envelope, state, r.decision, r.claim);
        case 'sent':
          return this.#sent(run, copy, r.wamid, r.resend, r.fallbackMessageId);
        case 'answered': {
          const a = r.action;
          if (a.action === 'dead-letter') {
            const apiError = r.result.kind === 'http-error' ? { ...(r.result.error ?? {}), httpStatus: r.result.status } : undefined;
            return this.#deadLetter(run, item, envelope, copy.body, a.state, a, r.claim, a.reason === 'expired' ? undefined : apiError);
          }
          if (a.action === 'hold') {
            // The client cannot send though its status says it may: hold it (as the consumer does) and stop.
            this.#o.telemetry.warn('Cloud API says the client cannot send; release stopped', { ...log, why: r.verdictWhy, reason: a.reason });
            await this.#hold(run, envelope, r.result.kind === 'http-error' ? r.result.error : null, r.verdictWhy, a.reason);
            return halt(run, 'not-connected', a.reason === 'token-invalid' ? 'token-invalid' : 'cloud-api-not-connected');
          }
          if (a.rateLimit === 'throughput') {
            // The number's throughput is used up (inbound traffic, the business app): the whole phone number backs
            // off in this run, and the same message goes again (order holds).
            this.#o.telemetry.count('ReleaseThrottled');
            const wait = Math.min(THROUGHPUT_BACKOFF_MAX_MS, 500 * 2 ** Math.min(throttled, 10));
            if (this.#o.now() + wait >= run.deadlineMs) return block(run, lane, this.#o.now() + wait);
            run.phonePausedUntil.set(copy.phoneNumberId, Math.max(run.phonePausedUntil.get(copy.phoneNumberId) ?? 0, this.#o.now() + wait));
            await this.#o.sleep(wait);
            continue;
          }
          this.#o.telemetry.count(a.rateLimit === 'pair-rate' ? 'ReleasePairRateLimited' : 'SendRetries');
          await this.#o.parked.updateCounters(refOf(copy), { sendAttempts: a.next.sendAttempts, rateLimitHits: a.next.rateLimitHits ?? copy.rateLimitHits });
          return block(run, lane, this.#o.now() + a.delaySeconds * 1000);
        }
      }
    }
  }

  /** A gate decision other than send: halt (client-wide), wait the lane (a restriction), or dead-letter. */
  async #notNow(run: RunState, copy: ParkedCopy, envelope: OutboundEnvelope, state: ParkState, d: Exclude<GateDecision, { action: 'send' }>, claim: HeldClaim | null): Promise<void> {
    if (d.action === 'dead-letter') {
      if (claim) return this.#deadLetter(run, { ok: true, copy }, envelope, copy.body, state, d, claim);
      return this.#claimAndDeadLetter(run, copy, envelope, state, d);
    }
    if (d.scope === 'client') return halt(run, 'status', `client-${d.cause === 'offboarded' ? 'offboarded' : d.cause}`);
    this.#o.telemetry.count('ParkedByRestriction');
    const lane = laneOf(copy);
    run.restricted.set(lane, Math.max(run.restricted.get(lane) ?? 0, d.untilMs ?? this.#o.now() + d.delaySeconds * 1000));
  }

  /** Waits for the phone number's pace slot, then asks the gate once more (on the facts the watcher keeps fresh). */
  async #slotThenGate(run: RunState, copy: ParkedCopy, envelope: OutboundEnvelope, state: ParkState): Promise<GateDecision> {
    const pause = (run.phonePausedUntil.get(copy.phoneNumberId) ?? 0) - this.#o.now();
    if (pause > 0) await this.#o.sleep(pause);
    const slot = await this.#o.pacer.reserve(copy.phoneNumberId, this.#o.now());
    const wait = slot - this.#o.now();
    if (wait > 0) await this.#o.sleep(wait);
    if (run.stop) return STOPPED;
    const d = this.#decide(run, envelope, state);
    if (d.action === 'send') await this.#o.callWindow.admit(copy.phoneNumberId);
    return d;
  }

  async #hold(run: RunState, envelope: OutboundEnvelope, error: Parameters<ClientHealthService['tripHold']>[2]['error'], why: string, reason: 'not-connected' | 'token-invalid'): Promise<void> {
    const health = this.#o.health;
    if (!health) return;
    const wabaId = run.request.wabaId;
    const client = this.#client(run.facts.context, wabaId);
    try {
      const hold = await health.tripHold(wabaId, client.hold, { phoneNumberId: envelope.phoneNumberId, messageId: envelope.messageId, error, why, reason });
      if (hold) await health.probe(wabaId, hold.phoneNumberId, 'hold-started', { gate: { ...client, hold: { state: 'in-force', hold } }, health: run.facts.context.health.get(wabaId) ?? {} });
    } catch (e) {
      this.#o.telemetry.warn('could not record the hold or probe', { wabaId, error: String(e) });
    }
  }

  async #sent(run: RunState, copy: ParkedCopy, wamid: string, resend: boolean, fallbackMessageId: string | undefined): Promise<void> {
    const { telemetry } = this.#o;
    const log = { wabaId: copy.wabaId, messageId: copy.messageId };
    await forget(this.#o, run, refOf(copy));
    run.progress = bump(run.progress, 'sent');
    telemetry.count('MessagesReleased');
    telemetry.count('MessagesSent');
    if (resend) telemetry.count('ReleaseAmbiguousResends');
    telemetry.seconds('ResumedAfterParkSeconds', Math.max(0, Math.round((this.#o.now() - Date.parse(copy.firstParkedAt)) / 1000)));
    telemetry.info('parked message released', { ...log, wamid });
    const extra = { releaseId: run.releaseId, firstParkedAt: copy.firstParkedAt, ...(fallbackMessageId ? { fallbackMessageId } : {}) };
    await publish(this.#send, [relayEvent('message.released', { time: this.#o.now(), ...log, wamid }, [copy.wabaId, copy.messageId, 'released'], extra)], log);
  }

  /** Another copy finished the message (sent, dead-lettered, replaced): its parked copy goes, nothing is sent. */
  async #alreadyFinal(run: RunState, copy: ParkedCopy): Promise<void> {
    await forget(this.#o, run, refOf(copy));
    run.progress = bump(run.progress, 'alreadySent');
    this.#o.telemetry.count('DuplicateSuppressed');
  }

  async #claimAndDeadLetter(run: RunState, copy: ParkedCopy, envelope: OutboundEnvelope | null, state: ParkState, d: { readonly reason: DeadLetterReason; readonly detail: string }): Promise<void> {
    const c = await claimToDeadLetter(this.#send, { wabaId: copy.wabaId, messageId: copy.messageId });
    if ('final' in c) return this.#alreadyFinal(run, copy);
    if ('inFlight' in c) return block(run, laneOf(copy), this.#o.now() + 2_000);
    return this.#deadLetter(run, { ok: true, copy }, envelope, copy.body, state, d, c.claim);
  }

  async #deadLetter(
    run: RunState,
    item: StoredParkedCopy,
    envelope: OutboundEnvelope | null,
    raw: string,
    state: ParkState,
    d: { readonly reason: DeadLetterReason; readonly detail: string },
    claim: HeldClaim | null,
    cloudApiError?: DeadLetterBody['cloudApiError'],
  ): Promise<void> {
    const nowMs = this.#o.now();
    const m = deadLetterMessage({ reason: d.reason, detail: d.detail, nowMs, envelope, rawBody: raw, state, ...(cloudApiError ? { cloudApiError } : {}) });
    // The copy's WABA, even when its body cannot be read (the body's own cannot be trusted then).
    const wabaId = item.ok ? item.copy.wabaId : item.wabaId;
    const failed = await this.#o.queues.deadLetter([{ id: 'dl', body: m.body, attributes: { ...m.attributes, wabaId } }]);
    if (failed.size > 0) {
      if (claim) await settle(this.#send, claim, 'release');
      throw new Error(`dead-letter send failed for a parked copy of ${wabaId}`);
    }
    if (claim) await settleDeadLetter(this.#send, claim, { reason: d.reason, deadLetteredAt: iso(nowMs) });
    await forget(this.#o, run, item.ok ? refOf(item.copy) : { wabaId: item.wabaId, orderKey: item.orderKey });
    run.progress = bump(run.progress, 'deadLettered');
    this.#o.telemetry.count('MessagesDeadLettered');
    this.#o.telemetry.count('DeadLetterReason', 1, { reason: d.reason });
    if (envelope) await recordOutcome(this.#send, envelope, { state: 'dead-lettered', atMs: nowMs, source: 'relay', reason: d.reason, detail: d.detail.slice(0, 500) }, {});
  }

  async #beat(run: RunState): Promise<void> {
    const nowMs = this.#o.now();
    if (nowMs - run.lastBeat < this.#o.heartbeatMs || run.stop) return;
    run.lastBeat = nowMs;
    const p = run.progress;
    run.progress = { ...p, updatedAt: iso(nowMs), left: Math.max(0, p.total - p.sent - p.deadLettered - p.alreadySent) };
    if (!(await this.#o.control.heartbeat(run.request.wabaId, run.releaseId, nowMs, this.#o.leaseMs, run.progress))) halt(run, 'lease', 'lease-lost');
  }
}

/** Why a client may not send at all now (offboarded or worse but not terminal, or held), or null. */
const clientWide = (client: ClientGate): string | null =>
  client.status === 'OFFBOARDED' ? 'client-offboarded' : client.hold.state === 'in-force' ? 'client-held' : null;

const halt = (run: RunState, kind: NonNullable<RunState['stop']>['kind'], reason: string): void => {
  run.stop ??= { kind, reason };
};
const block = (run: RunState, lane: string, untilMs: number): void => {
  run.blocked.set(lane, Math.max(run.blocked.get(lane) ?? 0, untilMs));
};

/** A parked copy's park state, as its delay-queue copy carries it. */
const copyState = (copy: ParkedCopy): ParkState => ({
  parkCount: copy.parkCount,
  firstParkedAt: copy.firstParkedAt,
  sendAttempts: copy.sendAttempts,
  rateLimitHits: copy.rateLimitHits,
  parkedCopy: true,
});

const FRESH_STATE: ParkState = { parkCount: 0, firstParkedAt: null, sendAttempts: 0 };
/** What the gate "says" when the run stopped during a pace wait: the claim goes back, nothing is sent. */
const STOPPED: GateDecision = { action: 'park', cause: 'offboarded', scope: 'client', untilMs: null, delaySeconds: 0, next: FRESH_STATE };
