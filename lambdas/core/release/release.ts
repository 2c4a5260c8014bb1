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
import type { ClientHealthService } from '../health/client-health-service.js';
import { mapLimit } from '../shared/concurrency.js';
import { type OutboundEnvelope, parseEnvelope } from '../outbound/envelope.js';
import { NoTokenError } from '../shared/errors.js';
import type { AfterSendPolicy, ParkState } from '../outbound/outbound-decision.js';
import type { CallWindow } from './pacing.js';
import type { BatchContextReader, CloudApi, OutboundQueues, TokenProvider } from '../outbound/ports.js';
import type { MessageOutcomeStore, RelayEventPublisher } from '../outcomes/ports.js';
import type { Pacer, ParkedCopy, ParkedStore, ReleaseQueue, ReleaseRequest, ReleaseStore, StoredParkedCopy } from './ports.js';
import type { Telemetry } from '../shared/telemetry.js';
import { block, clampDelay, type EndDeps, finishRound, flush, halt, iso, laneOf, pauseRun, type ReleaseRunResult, type RunState, refOf, stopRun, withoutReason } from './release-end.js';
import { claimAndDeadLetter, type CopyDeps, copyFinal, copySent, copyState, deadLetterCopy } from './release-copy.js';
import { clientOf, clientWide, decide, type FactsDeps, meet, newRun, refresh, sweep, watchFacts } from './release-facts.js';
import type { GateDecision, } from '../outbound/send-policy.js';
import { type HeldClaim, type SendStepDeps, sendOnce } from '../outbound/send-step.js';
import type { SendLedger } from '../outbound/send-ledger.js';

export type { ReleaseOutcome, ReleaseRunResult } from './release-end.js';
export { parseReleaseRequest } from './release-request.js';
export { parkedOrderKey } from './release-rules.js';

export interface ReleaseServiceOptions extends Partial<Pick<AfterSendPolicy, 'parkDelaySchedule' | 'random' | 'humanReplyHoldSeconds'>> {
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
  readonly #deps: CopyDeps;
  readonly #factsDeps: FactsDeps;

  constructor(options: ReleaseServiceOptions) {
    this.#o = { statusCheckMs: 250, pageSize: 100, leaseMs: 90_000, heartbeatMs: 1_000, laneConcurrency: 16, now: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)), ...options };
    const policy: AfterSendPolicy = {
      parkDelaySchedule: options.parkDelaySchedule ?? NO_SCHEDULE,
      maxParkSeconds: options.maxParkSeconds,
      maxSendAttempts: options.maxSendAttempts,
      ...(options.humanReplyHoldSeconds !== undefined ? { humanReplyHoldSeconds: options.humanReplyHoldSeconds } : {}),
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
    this.#deps = { o: this.#o, send: this.#send };
    this.#factsDeps = { ...this.#o, probeEndsOffboarding: this.#o.probeEndsOffboarding ?? false, policy };
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
    const client = clientOf(this.#factsDeps, context, wabaId);
    const cannot = clientWide(client);
    const releaseId = randomUUID();
    const nowMs = this.#o.now();
    if (cannot) {
      // Nothing may be sent; the gate may still dead-letter some messages whatever the client's state (a phone number
      // of another WABA, a deadline passed), as the consumer does at their next hop. No lease: nothing is sent.
      const swept = await sweep(this.#factsDeps, this.#deps, newRun(request, releaseId, first.lastRelease, context, nowMs, deadlineMs, this.#send, telemetry), cannot);
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
    const run = newRun(request, releaseId, withoutReason(startProgress), context, nowMs, deadlineMs, this.#send, telemetry);
    run.drainSince = begun.drainSince;
    const watch = watchFacts(this.#factsDeps, run);
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

  /** Sends page after page until the set is empty (apart from waiting recipients) or the run must stop. */
  async #drain(run: RunState): Promise<void> {
    const wabaId = run.request.wabaId;
    let cursor: string | undefined;
    do {
      const page = await this.#o.parked.list(wabaId, this.#o.pageSize, cursor);
      cursor = page.cursor ?? undefined;
      // The owners of phone numbers this run has not met yet: read before any of their messages is decided.
      // Phone owners and human holds this run has not met yet are read before any of their messages is decided.
      const met = meet(run, page.items.flatMap((i) => (i.ok ? [i.copy] : [])));
      if (met || this.#o.now() - run.facts.atMs >= this.#o.statusCheckMs) await refresh(this.#factsDeps, run);
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
      return deadLetterCopy(this.#deps, run, item, null, item.raw, FRESH_STATE, { reason: 'invalid-envelope', detail: `parked copy unreadable: ${item.problem}` }, null);
    }
    const copy = item.copy;
    const state = copyState(copy);
    const parsed = parseEnvelope(copy.body);
    if (!parsed.ok) return claimAndDeadLetter(this.#deps, run, copy, null, state, { reason: 'invalid-envelope', detail: parsed.problem });
    const envelope = parsed.envelope;
    const lane = laneOf(copy);
    if (run.blocked.has(lane) || run.restricted.has(lane)) return; // an earlier message to this recipient waits: so do the later ones
    // The facts are at most `statusCheckMs` old when a message is decided (the watcher keeps them so between messages).
    if (this.#o.now() - run.facts.atMs >= this.#o.statusCheckMs) await refresh(this.#factsDeps, run);
    const d = decide(this.#factsDeps, run, envelope, state);
    if (d.action !== 'send') return this.#notNow(run, copy, envelope, state, d, null);
    for (let throttled = 0; ; throttled++) {
      let r: Awaited<ReturnType<typeof sendOnce>>;
      try {
        r = await sendOnce(run.send, envelope, state, { beforeCall: () => this.#slotThenGate(run, copy, envelope, state) });
      } catch (error) {
        if (!(error instanceof NoTokenError)) throw error;
        // Configuration, not an outage: like the consumer, dead-letter it.
        this.#o.telemetry.error('no Cloud API token for this client; dead-lettered', { wabaId: copy.wabaId, messageId: copy.messageId });
        return claimAndDeadLetter(this.#deps, run, copy, envelope, state, { reason: 'no-access-token', detail: error.message });
      }
      const log = { wabaId: copy.wabaId, messageId: copy.messageId };
      switch (r.kind) {
        case 'final':
          return copyFinal(this.#deps, run, copy);
        case 'in-flight':
          // Another copy is being acted on right now (its delay-queue copy): this recipient waits until that settles.
          return block(run, lane, this.#o.now() + 2_000);
        case 'gated':
          return run.stop ? undefined : this.#notNow(run, copy, envelope, state, r.decision, r.claim);
        case 'sent':
          return copySent(this.#deps, run, copy, r.wamid, r.resend, r.fallbackMessageId);
        case 'answered': {
          const a = r.action;
          if (a.action === 'dead-letter') {
            const apiError = r.result.kind === 'http-error' ? { ...(r.result.error ?? {}), httpStatus: r.result.status } : undefined;
            return deadLetterCopy(this.#deps, run, item, envelope, copy.body, a.state, a, r.claim, a.reason === 'expired' ? undefined : apiError);
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
      if (claim) return deadLetterCopy(this.#deps, run, { ok: true, copy }, envelope, copy.body, state, d, claim);
      return claimAndDeadLetter(this.#deps, run, copy, envelope, state, d);
    }
    if (d.scope === 'client') return halt(run, 'status', `client-${d.cause === 'offboarded' ? 'offboarded' : d.cause}`);
    this.#o.telemetry.count(d.cause === 'human-replied' ? 'ParkedForHumanReply' : 'ParkedByRestriction');
    if (d.cause === 'human-replied') run.humanHeld = true;
    else run.restrictionHeld = true;
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
    const d = decide(this.#factsDeps, run, envelope, state);
    if (d.action === 'send') await this.#o.callWindow.admit(copy.phoneNumberId);
    return d;
  }

  async #hold(run: RunState, envelope: OutboundEnvelope, error: Parameters<ClientHealthService['tripHold']>[2]['error'], why: string, reason: 'not-connected' | 'token-invalid'): Promise<void> {
    const health = this.#o.health;
    if (!health) return;
    const wabaId = run.request.wabaId;
    const client = clientOf(this.#factsDeps, run.facts.context, wabaId);
    try {
      const hold = await health.tripHold(wabaId, client.hold, { phoneNumberId: envelope.phoneNumberId, messageId: envelope.messageId, error, why, reason });
      if (hold) await health.probe(wabaId, hold.phoneNumberId, 'hold-started', { gate: { ...client, hold: { state: 'in-force', hold } }, health: run.facts.context.health.get(wabaId) ?? {} });
    } catch (e) {
      this.#o.telemetry.warn('could not record the hold or probe', { wabaId, error: String(e) });
    }
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



const FRESH_STATE: ParkState = { parkCount: 0, firstParkedAt: null, sendAttempts: 0 };
/** What the gate "says" when the run stopped during a pace wait: the claim goes back, nothing is sent. */
const STOPPED: GateDecision = { action: 'park', cause: 'offboarded', scope: 'client', untilMs: null, delaySeconds: 0, next: FRESH_STATE };
