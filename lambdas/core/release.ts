/**
 * Release: sends a client's parked messages the moment it may send again, instead of when each message's delay hop
 * ends. Orchestration over ports; no I/O of its own.
 *
 * One run, for one client:
 * 1. status check (strongly consistent): not CONNECTED -> nothing is sent;
 * 2. the client's release lease (one release per client at a time, so order holds) and the drain flag (new messages
 *    for the client park behind the release instead of overtaking it);
 * 3. the parked copies in first-enqueued order, one lane per phone number (lanes run side by side, a lane sends in
 *    order), each send in a pace slot of its phone number, the client's status re-checked at least every
 *    `statusCheckMs` (re-offboarded: stop at once, the rest stays parked);
 * 4. a copy goes once its message left: sent, found already sent, or dead-lettered;
 * 5. empty: clear the drain flag (only if no newer request set it again), then look once more, in case a message
 *    parked in between; anything there: go round again.
 * Before the time limit, or when a recipient must wait (pair rate, retryable error), the run queues its own
 * continuation. If the run dies, its request comes back from the queue; the send ledger keeps a message from going
 * twice.
 */
import { randomUUID } from 'node:crypto';
import * as z from 'zod/mini';
import { type ClientStatus, deriveStatus } from './client-status.js';
import { mapLimit } from './concurrency.js';
import { type OutboundEnvelope, parseEnvelope } from './envelope.js';
import { type DeadLetterBody, deadLetterMessage } from './dead-letter.js';
import { NoTokenError } from './errors.js';
import { ID_PATTERN, ID_RULE } from './ids.js';
import { type DeadLetterReason, expiry, type ParkState, ruleAfterSend } from './outbound-decision.js';
import type {
  ActivityRecorder,
  CloudApi,
  OutboundQueues,
  Pacer,
  ParkedCopy,
  ParkedRef,
  ParkedStore,
  ReleaseGate,
  ReleaseProgress,
  ReleaseQueue,
  ReleaseRequest,
  ReleaseStore,
  ReleaseTrigger,
  StoredParkedCopy,
  Telemetry,
  TokenProvider,
  MessageOutcomeStore,
  RelayEventPublisher,
} from './ports.js';
import type { CallWindow } from './pacing.js';
import { publish, recordOutcome, sendOnce, type SendStepDeps, type SendStepResult } from './send-step.js';
import { relayEvent } from './relay-events.js';
import type { SendLedger } from './send-ledger.js';

export { behindRelease, releaseRequestBody, CONNECTING_CLASSES, PARKED_COPY_MAX_BODY_BYTES, parkedOrderKey, RELEASE_STALL_MS, releaseDue, releaseOverdue } from './release-rules.js';
import { describeIssues } from './zod.js';

export const RELEASE_TRIGGERS = ['status-connected', 'probe-can-send', 'restriction-expired', 'operator'] as const satisfies readonly ReleaseTrigger[];


export const releaseRequestSchema = z.strictObject({
  wabaId: z.string().check(z.regex(ID_PATTERN, ID_RULE)),
  trigger: z.enum(RELEASE_TRIGGERS),
  requestedAt: z.iso.datetime({ offset: true }),
  continuationOf: z.optional(z.string().check(z.minLength(1), z.maxLength(64))),
  notConnectedRuns: z.optional(z.int().check(z.minimum(0), z.maximum(1000))),
});

export type ReleaseRequestParse = { readonly ok: true; readonly request: ReleaseRequest } | { readonly ok: false; readonly problem: string };

export const parseReleaseRequest = (body: string): ReleaseRequestParse => {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, problem: 'body is not JSON' };
  }
  const r = releaseRequestSchema.safeParse(json);
  return r.success ? { ok: true, request: r.data } : { ok: false, problem: describeIssues(r.error, 3) };
};



export interface ReleaseServiceOptions {
  readonly parked: ParkedStore;
  readonly control: ReleaseStore;
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
  /** The client's status is read again at least this often while sending (default 250 ms). */
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
  readonly random?: () => number;
  /** Message outcomes (issue 13): dead-lettered messages, what statuses need after a send. */
  readonly messages?: MessageOutcomeStore;
  /** Relay events (`message.released`, `message.sent`, `message.dead_lettered`). Default: none. */
  readonly events?: RelayEventPublisher;
}

export type ReleaseOutcome =
  /** Everything parked went out (or was dead-lettered); the drain flag is clear. */
  | 'done'
  /** The client may not send: nothing was sent. */
  | 'not-connected'
  /** Stopped midway (re-offboarded, or the Cloud API says not connected): the rest stays parked. */
  | 'stopped'
  /** A continuation is queued (time limit, or recipients that must wait). */
  | 'continued'
  /** Another release holds the client; this request comes back when its lease ends. */
  | 'busy'
  /** Another release took the lease over: it carries on. */
  | 'lease-lost';

export interface ReleaseRunResult {
  readonly outcome: ReleaseOutcome;
  readonly progress: ReleaseProgress | null;
}

interface RunState {
  readonly request: ReleaseRequest;
  readonly releaseId: string;
  drainSince: number;
  progress: ReleaseProgress;
  /** Why the run must stop now (set once). */
  stop: { readonly reason: string; readonly kind: 'status' | 'deadline' | 'lease' | 'not-connected' | 'error' } | null;
  /** Recipients (`phoneNumberId|to`) that must wait until the given time; their later messages stay parked. */
  readonly blocked: Map<string, number>;
  /** Phone numbers backing off after a throughput answer (130429), until the given time. */
  readonly phonePausedUntil: Map<string, number>;
  /** Copies whose message left, not yet deleted. */
  readonly toRemove: ParkedRef[];
  /** Counters already added to the client's totals. */
  recorded: { sent: number; deadLettered: number };
  lastBeat: number;
  readonly deadlineMs: number;
  gate: { atMs: number; status: ClientStatus; pending: Promise<ClientStatus> | null };
}

const NOT_CONNECTED_BASE_DELAY_S = 30;
const MAX_DELAY_S = 900;
/** Longest one backoff after a throughput answer (130429) before the same message is tried again. */
const THROUGHPUT_BACKOFF_MAX_MS = 8_000;

export class ReleaseService {
  readonly #o: Required<Omit<ReleaseServiceOptions, 'random' | 'messages' | 'events'>> & { random: () => number };
  readonly #send: SendStepDeps;

  constructor(options: ReleaseServiceOptions) {
    this.#o = {
      statusCheckMs: 250,
      pageSize: 100,
      leaseMs: 90_000,
      heartbeatMs: 1_000,
      laneConcurrency: 16,
      now: Date.now,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      random: Math.random,
      ...options,
    };
    this.#send = {
      ledger: options.ledger,
      tokens: options.tokens,
      cloudApi: options.cloudApi,
      telemetry: options.telemetry,
      now: this.#o.now,
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
    const first = await control.read(wabaId);
    const status = this.#status(first);
    if (status !== 'CONNECTED') {
      telemetry.info('release not started: client may not send', { ...log, status });
      return { outcome: 'not-connected', progress: first.lastRelease };
    }
    const releaseId = randomUUID();
    const nowMs = this.#o.now();
    const previous = first.lastRelease;
    const continuing = request.continuationOf !== undefined && previous?.releaseId === request.continuationOf;
    const { count } = await this.#o.parked.summary(wabaId);
    const startProgress: ReleaseProgress = continuing
      ? { ...(previous as ReleaseProgress), releaseId, state: 'running', updatedAt: iso(nowMs), left: count }
      : {
          releaseId,
          trigger: request.trigger,
          state: 'running',
          startedAt: iso(nowMs),
          updatedAt: iso(nowMs),
          total: count,
          sent: 0,
          deadLettered: 0,
          alreadySent: 0,
          left: count,
        };
    const begun = await control.begin(wabaId, releaseId, nowMs, this.#o.leaseMs, withoutReason(startProgress));
    if (!begun.ok) {
      const delay = clampDelay(Math.ceil((begun.leaseUntilMs - nowMs) / 1000) + 1);
      await this.#o.requests.enqueue({ ...request, requestedAt: iso(nowMs) }, delay);
      telemetry.info('another release holds the client; request queued again', { ...log, delaySeconds: delay });
      return { outcome: 'busy', progress: null };
    }
    telemetry.count('ReleasesStarted');
    telemetry.info('release started', { ...log, releaseId, parked: count, continuing });
    const run: RunState = {
      request,
      releaseId,
      drainSince: begun.drainSince,
      progress: withoutReason(startProgress),
      stop: null,
      blocked: new Map(),
      phonePausedUntil: new Map(),
      toRemove: [],
      recorded: { sent: startProgress.sent, deadLettered: startProgress.deadLettered },
      lastBeat: nowMs,
      deadlineMs,
      gate: { atMs: nowMs, status, pending: null },
    };

    const watch = this.#watchStatus(run);
    try {
      return await this.#rounds(run);
    } catch (error) {
      // Give the lease back so the request, when it comes back from the queue, resumes at once (a crash cannot do
      // this: then the lease runs out first). The send ledger keeps anything already sent from going twice.
      await this.#flush(run).catch(() => undefined);
      const progress = { ...run.progress, updatedAt: iso(this.#o.now()), reason: 'error' };
      await control.finish(wabaId, releaseId, progress, null).catch(() => undefined);
      telemetry.count('ReleaseErrors');
      throw error;
    } finally {
      watch.stop();
    }
  }

  /** Reads the client's status every `statusCheckMs` while the run lasts, so a re-offboarding stops it at once. */
  #watchStatus(run: RunState): { stop(): void } {
    let active = true;
    void (async () => {
      while (active) {
        await this.#o.sleep(Math.max(this.#o.statusCheckMs, 25));
        if (!active) break;
        await this.#gate(run).catch(() => undefined);
        if (run.gate.status !== 'CONNECTED') this.#halt(run, 'status', 'client-offboarded');
      }
    })();
    return {
      stop: () => {
        active = false;
      },
    };
  }

  async #rounds(run: RunState): Promise<ReleaseRunResult> {
    const { control } = this.#o;
    const { wabaId } = run.request;
    const { releaseId } = run;
    for (let round = 0; ; round++) {
      await this.#drain(run);
      if (run.stop) return this.#stopped(run);
      if (run.blocked.size > 0) return this.#pause(run);
      const done = { ...run.progress, state: 'done' as const, left: 0, updatedAt: iso(this.#o.now()), finishedAt: iso(this.#o.now()) };
      const cleared = await control.finish(wabaId, releaseId, done, run.drainSince);
      // Look once more: a message may have parked behind the release between the last page and the flag's end.
      const again = await this.#o.parked.list(wabaId, 1);
      if (cleared && again.items.length === 0) {
        run.progress = done;
        this.#finished(run);
        return { outcome: 'done', progress: done };
      }
      // More to do: a newer request set the flag again, or a message parked in between. Take the client again.
      const retake = await control.begin(wabaId, releaseId, this.#o.now(), this.#o.leaseMs, { ...run.progress, updatedAt: iso(this.#o.now()) });
      if (!retake.ok) return { outcome: 'lease-lost', progress: run.progress };
      run.drainSince = retake.drainSince;
      if (round > 1000) throw new Error('release did not settle');
    }
  }

  /** Sends page after page until the set is empty (apart from waiting recipients) or the run must stop. */
  async #drain(run: RunState): Promise<void> {
    const wabaId = run.request.wabaId;
    let cursor: string | undefined;
    do {
      const page = await this.#o.parked.list(wabaId, this.#o.pageSize, cursor);
      cursor = page.cursor ?? undefined;
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
          if (this.#o.now() >= run.deadlineMs) {
            this.#halt(run, 'deadline', 'time-limit');
            return;
          }
          try {
            await this.#one(run, item);
            await this.#beat(run);
          } catch (error) {
            // Every lane stops: the run fails and its request comes back.
            this.#halt(run, 'error', 'error');
            throw error;
          }
        }
      });
      await this.#flush(run);
      if (run.stop) return;
    } while (cursor);
  }

  async #one(run: RunState, item: StoredParkedCopy): Promise<void> {
    const { telemetry } = this.#o;
    if (!item.ok) {
      telemetry.warn('unreadable parked copy dead-lettered', { wabaId: item.wabaId, orderKey: item.orderKey, problem: item.problem });
      await this.#deadLetter(run, item, null, item.raw, FRESH_STATE, 'invalid-envelope', `parked copy unreadable: ${item.problem}`);
      return;
    }
    const copy = item.copy;
    const parsed = parseEnvelope(copy.body);
    const state: ParkState = { parkCount: copy.parkCount, firstParkedAt: copy.firstParkedAt, sendAttempts: copy.sendAttempts };
    if (!parsed.ok) {
      await this.#deadLetter(run, item, null, copy.body, state, 'invalid-envelope', parsed.problem);
      return;
    }
    const envelope = parsed.envelope;
    const lane = laneOf(copy);
    if (run.blocked.has(lane)) return; // an earlier message to this recipient waits: so do the later ones
    const expired = expiry(envelope, state, this.#o.now(), this.#o.maxParkSeconds);
    if (expired) {
      await this.#deadLetter(run, item, envelope, copy.body, state, 'expired', expired);
      return;
    }
    if ((await this.#gate(run)) !== 'CONNECTED') {
      this.#halt(run, 'status', 'client-offboarded');
      return;
    }
    for (let throttled = 0; ; throttled++) {
      let r: SendStepResult;
      try {
        r = await sendOnce(this.#send, envelope, () => this.#takeSlot(run, copy));
      } catch (error) {
        if (!(error instanceof NoTokenError)) throw error;
        // Configuration, not an outage: like the consumer, dead-letter it (never claimed, nothing sent).
        telemetry.error('no Cloud API token for this client; dead-lettered', { wabaId: copy.wabaId, messageId: copy.messageId });
        await this.#deadLetter(run, item, envelope, copy.body, state, 'no-access-token', error.message);
        return;
      }
      const log = { wabaId: copy.wabaId, messageId: copy.messageId };
      switch (r.kind) {
        case 'aborted':
          return;
        case 'already-sent':
          await this.#forget(run, refOf(copy));
          run.progress = bump(run.progress, 'alreadySent');
          telemetry.count('DuplicateSuppressed');
          return;
        case 'in-flight':
          // Someone else is sending it right now (a delayed copy): its recipient waits until that settles.
          this.#block(run, lane, 2_000);
          return;
        case 'sent':
          await this.#forget(run, refOf(copy));
          run.progress = bump(run.progress, 'sent');
          telemetry.count('MessagesReleased');
          telemetry.count('MessagesSent');
          if (r.resend) telemetry.count('ReleaseAmbiguousResends');
          telemetry.seconds('ResumedAfterParkSeconds', Math.max(0, Math.round((this.#o.now() - Date.parse(copy.firstParkedAt)) / 1000)));
          telemetry.info('parked message released', { ...log, wamid: r.wamid });
          await publish(this.#send, [
            relayEvent('message.released', { time: this.#o.now(), ...log, wamid: r.wamid }, [copy.wabaId, copy.messageId, 'released'], {
              releaseId: run.releaseId,
              firstParkedAt: copy.firstParkedAt,
              ...(r.fallbackMessageId ? { fallbackMessageId: r.fallbackMessageId } : {}),
            }),
          ], log);
          return;
        case 'not-sent': {
          const apiError = r.result.kind === 'http-error' ? { ...(r.result.error ?? {}), httpStatus: r.result.status } : undefined;
          const d = ruleAfterSend(r.verdict, envelope, { ...state, rateLimitHits: copy.rateLimitHits }, this.#o.now(), this.#o);
          if (r.verdict.verdict === 'park') {
            // The number looks disconnected though the status says connected: stop; the rest stays parked.
            telemetry.warn('Cloud API says the number is not connected; release stopped', { ...log, why: r.verdict.why });
            this.#halt(run, 'not-connected', 'cloud-api-not-connected');
          }
          if (d.action === 'dead-letter') {
            await this.#deadLetter(run, item, envelope, copy.body, d.state, d.reason, d.detail, d.reason === 'expired' ? undefined : apiError);
            return;
          }
          if (d.action !== 'retry') return;
          if (d.rateLimit === 'throughput') {
            // The number's throughput is used up (inbound traffic, the business app): the whole phone number backs
            // off in this run, and the same message goes again (order holds).
            telemetry.count('ReleaseThrottled');
            const wait = Math.min(THROUGHPUT_BACKOFF_MAX_MS, 500 * 2 ** Math.min(throttled, 10));
            if (this.#o.now() + wait >= run.deadlineMs) {
              this.#block(run, lane, wait);
              return;
            }
            run.phonePausedUntil.set(copy.phoneNumberId, Math.max(run.phonePausedUntil.get(copy.phoneNumberId) ?? 0, this.#o.now() + wait));
            await this.#o.sleep(wait);
            continue;
          }
          telemetry.count(d.rateLimit === 'pair-rate' ? 'ReleasePairRateLimited' : 'SendRetries');
          await this.#o.parked.updateCounters(refOf(copy), { sendAttempts: d.next.sendAttempts, rateLimitHits: d.next.rateLimitHits ?? copy.rateLimitHits });
          this.#block(run, lane, d.delaySeconds * 1000);
          return;
        }
      }
    }
  }

  /** Waits for the phone number's pace slot; false (no call) when the run stopped or the client went away meanwhile. */
  async #takeSlot(run: RunState, copy: ParkedCopy): Promise<boolean> {
    const pause = (run.phonePausedUntil.get(copy.phoneNumberId) ?? 0) - this.#o.now();
    if (pause > 0) await this.#o.sleep(pause);
    const slot = await this.#o.pacer.reserve(copy.phoneNumberId, this.#o.now());
    const wait = slot - this.#o.now();
    if (wait > 0) await this.#o.sleep(wait);
    if (run.stop) return false;
    // No request between the slot and the call (it would make the call late): the status kept fresh by the
    // background check decides.
    if (run.gate.status !== 'CONNECTED') {
      this.#halt(run, 'status', 'client-offboarded');
      return false;
    }
    await this.#o.callWindow.admit(copy.phoneNumberId);
    return true;
  }

  /**
   * Copies of messages that left are deleted in batches (a copy left behind by a crash is harmless: the next release
   * finds its message already sent and deletes it then).
   */
  async #forget(run: RunState, ref: ParkedRef): Promise<void> {
    run.toRemove.push(ref);
    if (run.toRemove.length >= 25) await this.#flush(run);
  }

  async #flush(run: RunState): Promise<void> {
    const refs = run.toRemove.splice(0);
    if (refs.length > 0) await this.#o.parked.remove(refs);
    const { sent, deadLettered } = run.progress;
    const delta = { sent: sent - run.recorded.sent, deadLettered: deadLettered - run.recorded.deadLettered };
    if (delta.sent + delta.deadLettered === 0) return;
    run.recorded = { sent, deadLettered };
    await this.#o.activity
      .record([{ wabaId: run.request.wabaId, parked: 0, ambiguousResends: 0, ...delta }], this.#o.now())
      .catch((error) => this.#o.telemetry.warn('client counters not updated', { error: String(error) }));
  }

  /** The client's status, read again (strongly consistent) when the last read is older than `statusCheckMs`. */
  async #gate(run: RunState): Promise<ClientStatus> {
    const g = run.gate;
    if (this.#o.now() - g.atMs < this.#o.statusCheckMs) return g.status;
    if (!g.pending) {
      g.pending = this.#o.control
        .read(run.request.wabaId)
        .then((gate) => {
          g.status = this.#status(gate);
          g.atMs = this.#o.now();
          return g.status;
        })
        .finally(() => {
          g.pending = null;
        });
    }
    return g.pending;
  }

  #status(gate: ReleaseGate): ClientStatus {
    return deriveStatus(gate.latest, this.#o.reconnectSkewMs).status;
  }

  #halt(run: RunState, kind: NonNullable<RunState['stop']>['kind'], reason: string): void {
    run.stop ??= { kind, reason };
  }

  #block(run: RunState, lane: string, ms: number): void {
    const until = this.#o.now() + ms;
    run.blocked.set(lane, Math.max(run.blocked.get(lane) ?? 0, until));
  }

  async #beat(run: RunState): Promise<void> {
    const nowMs = this.#o.now();
    if (nowMs - run.lastBeat < this.#o.heartbeatMs || run.stop) return;
    run.lastBeat = nowMs;
    const p = run.progress;
    run.progress = { ...p, updatedAt: iso(nowMs), left: Math.max(0, p.total - p.sent - p.deadLettered - p.alreadySent) };
    const held = await this.#o.control.heartbeat(run.request.wabaId, run.releaseId, nowMs, this.#o.leaseMs, run.progress);
    if (!held) this.#halt(run, 'lease', 'lease-lost');
  }

  async #deadLetter(
    run: RunState,
    item: StoredParkedCopy,
    envelope: OutboundEnvelope | null,
    raw: string,
    state: ParkState,
    reason: DeadLetterReason,
    detail: string,
    cloudApiError?: DeadLetterBody['cloudApiError'],
  ): Promise<void> {
    const m = deadLetterMessage({ reason, detail, nowMs: this.#o.now(), envelope, rawBody: raw, state, ...(cloudApiError ? { cloudApiError } : {}) });
    const wabaId = item.ok ? item.copy.wabaId : item.wabaId;
    // The copy's WABA, even when its body cannot be read (the body's own cannot be trusted then).
    const failed = await this.#o.queues.deadLetter([{ id: 'dl', body: m.body, attributes: { ...m.attributes, wabaId } }]);
    if (failed.size > 0) throw new Error(`dead-letter send failed for a parked copy of ${wabaId}`);
    await this.#forget(run, item.ok ? refOf(item.copy) : { wabaId: item.wabaId, orderKey: item.orderKey });
    run.progress = bump(run.progress, 'deadLettered');
    this.#o.telemetry.count('MessagesDeadLettered');
    this.#o.telemetry.count('DeadLetterReason', 1, { reason });
    if (envelope) await recordOutcome(this.#send, envelope, { state: 'dead-lettered', atMs: this.#o.now(), source: 'relay', reason, detail: detail.slice(0, 500) }, {});
  }

  async #stopped(run: RunState): Promise<ReleaseRunResult> {
    const { control, parked, requests, telemetry } = this.#o;
    const stop = run.stop as NonNullable<RunState['stop']>;
    const wabaId = run.request.wabaId;
    await this.#flush(run);
    if (stop.kind === 'lease') return { outcome: 'lease-lost', progress: run.progress };
    const nowMs = this.#o.now();
    const { count } = await parked.summary(wabaId);
    if (stop.kind === 'deadline') {
      // Durable before this run ends: the continuation carries on where this one stopped.
      await requests.enqueue({ wabaId, trigger: run.request.trigger, requestedAt: iso(nowMs), continuationOf: run.releaseId }, 0);
      const progress = { ...run.progress, state: 'running' as const, left: count, updatedAt: iso(nowMs), reason: stop.reason };
      await control.finish(wabaId, run.releaseId, progress, null);
      telemetry.info('release continues in a new run (time limit)', { wabaId, left: count });
      return { outcome: 'continued', progress };
    }
    if (stop.kind === 'not-connected') {
      // The Cloud API refused as if the number were offboarded though the status says connected: try again later.
      const runs = (run.request.notConnectedRuns ?? 0) + 1;
      const delay = clampDelay(NOT_CONNECTED_BASE_DELAY_S * 2 ** Math.min(runs - 1, 5));
      await requests.enqueue(
        { wabaId, trigger: run.request.trigger, requestedAt: iso(nowMs), continuationOf: run.releaseId, notConnectedRuns: runs },
        delay,
      );
      const progress = { ...run.progress, state: 'paused' as const, left: count, updatedAt: iso(nowMs), reason: stop.reason };
      await control.finish(wabaId, run.releaseId, progress, null);
      telemetry.count('ReleasesPaused');
      return { outcome: 'continued', progress };
    }
    // Re-offboarded (or worse): stop at once; what is left stays parked and goes with the next reconnection.
    const progress = { ...run.progress, state: 'stopped' as const, left: count, updatedAt: iso(nowMs), finishedAt: iso(nowMs), reason: stop.reason };
    await control.finish(wabaId, run.releaseId, progress, run.drainSince);
    telemetry.count('ReleasesStopped');
    telemetry.info('release stopped: client may no longer send', { wabaId, left: count, sent: progress.sent });
    return { outcome: 'stopped', progress };
  }

  /** Recipients must wait (pair rate, retryable errors): the run queues its continuation for when the first may go. */
  async #pause(run: RunState): Promise<ReleaseRunResult> {
    const wabaId = run.request.wabaId;
    await this.#flush(run);
    const nowMs = this.#o.now();
    const until = Math.min(...run.blocked.values());
    const delay = clampDelay(Math.ceil((until - nowMs) / 1000));
    await this.#o.requests.enqueue({ wabaId, trigger: run.request.trigger, requestedAt: iso(nowMs), continuationOf: run.releaseId }, delay);
    const { count } = await this.#o.parked.summary(wabaId);
    const progress = { ...run.progress, state: 'paused' as const, left: count, updatedAt: iso(nowMs), reason: 'recipients-waiting' };
    // The drain flag stays: new messages keep parking behind the ones still waiting.
    await this.#o.control.finish(wabaId, run.releaseId, progress, null);
    this.#o.telemetry.count('ReleasesPaused');
    this.#o.telemetry.info('release paused: recipients must wait', { wabaId, left: count, delaySeconds: delay });
    return { outcome: 'continued', progress };
  }

  #finished(run: RunState): void {
    const p = run.progress;
    this.#o.telemetry.count('ReleasesCompleted');
    this.#o.telemetry.info('release done', { wabaId: run.request.wabaId, sent: p.sent, deadLettered: p.deadLettered, alreadySent: p.alreadySent });
  }
}

const FRESH_STATE: ParkState = { parkCount: 0, firstParkedAt: null, sendAttempts: 0 };
const iso = (ms: number): string => new Date(ms).toISOString();
const clampDelay = (s: number): number => Math.min(MAX_DELAY_S, Math.max(0, Math.ceil(s)));
const laneOf = (c: ParkedCopy): string => `${c.phoneNumberId}|${c.recipient}`;
const refOf = (c: ParkedCopy): ParkedRef => ({ wabaId: c.wabaId, orderKey: c.orderKey });
const bump = (p: ReleaseProgress, key: 'sent' | 'deadLettered' | 'alreadySent'): ReleaseProgress => {
  const next = { ...p, [key]: p[key] + 1 };
  return { ...next, left: Math.max(0, next.total - next.sent - next.deadLettered - next.alreadySent) };
};
const withoutReason = (p: ReleaseProgress): ReleaseProgress => {
  const { reason: _r, finishedAt: _f, ...rest } = p;
  return rest;
};
