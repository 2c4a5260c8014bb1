/**
 * A release run's state and how a run ends: done (the drain flag cleared), continued (time limit, recipients that must
 * wait, a number the Cloud API refuses), or stopped (the client may no longer send). Progress is written
 * here; what to send is decided in release.ts through the send policy.
 */
import type { EventBuffer } from '../outcomes/event-buffer.js';
import type { SendStepDeps } from '../outbound/send-step.js';
import type { BatchContext, CustomerKey } from '../outbound/ports.js';
import type { ParkedCopy, ParkedRef, ParkedStore, ReleaseProgress, ReleaseQueue, ReleaseRequest, ReleaseStore } from './ports.js';
import type { Telemetry } from '../shared/telemetry.js';
import { isoTime } from '../shared/iso-time.js';

export type ReleaseOutcome =
  /** Everything parked went out (or was dead-lettered); the drain flag is clear. */
  | 'done'
  /** The client may not send: nothing was sent. */
  | 'not-connected'
  /** Stopped midway (re-offboarded, held): the rest stays parked. */
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

export interface RunState {
  readonly request: ReleaseRequest;
  readonly releaseId: string;
  drainSince: number;
  progress: ReleaseProgress;
  /** Why the run must stop now (set once). */
  stop: { readonly reason: string; readonly kind: 'status' | 'deadline' | 'lease' | 'not-connected' | 'error' } | null;
  /** Recipients (`phoneNumberId|to`) that must wait until the given time; their later messages stay parked. */
  readonly blocked: Map<string, number>;
  /**
   * Recipients whose next message a restriction holds, until it expires. Unlike `blocked`, they alone do not keep the
   * drain flag: new messages are not held behind a restriction, they meet it at the gate like these did.
   */
  readonly restricted: Map<string, number>;
  /** Some of those wait for a human hold to end rather than a restriction (the continuation keeps the run's trigger). */
  humanHeld: boolean;
  /** Some of those wait for a restriction of Meta's to expire. */
  restrictionHeld: boolean;
  /** Phone numbers backing off after a throughput answer (130429), until the given time. */
  readonly phonePausedUntil: Map<string, number>;
  /** Copies whose message is final, not yet deleted. */
  readonly toRemove: ParkedRef[];
  lastBeat: number;
  readonly deadlineMs: number;
  /** The send step's dependencies for this run: its relay events are buffered and go out with each flush. */
  readonly send: SendStepDeps;
  readonly events: EventBuffer | null;
  /** The client's facts for the gate, when they were read, the phone numbers met so far. */
  readonly facts: { atMs: number; context: BatchContext; readonly phones: Set<string>; readonly customers: Map<string, CustomerKey>; pending: Promise<void> | null };
}

export interface EndDeps {
  readonly parked: ParkedStore;
  readonly control: ReleaseStore;
  readonly requests: ReleaseQueue;
  readonly telemetry: Telemetry;
  readonly now: () => number;
  readonly leaseMs: number;
}

const NOT_CONNECTED_BASE_DELAY_S = 30;
const MAX_DELAY_S = 900;

export const iso = isoTime;

/** Stops the run (the first reason given wins). */
export const halt = (run: RunState, kind: NonNullable<RunState['stop']>['kind'], reason: string): void => {
  run.stop ??= { kind, reason };
};
/** A recipient waits until `untilMs`: its later messages stay parked behind the one that must wait. */
export const block = (run: RunState, lane: string, untilMs: number): void => {
  run.blocked.set(lane, Math.max(run.blocked.get(lane) ?? 0, untilMs));
};
export const clampDelay = (s: number): number => Math.min(MAX_DELAY_S, Math.max(0, Math.ceil(s)));
export const laneOf = (c: ParkedCopy): string => `${c.phoneNumberId}|${c.recipient}`;
export const refOf = (c: ParkedCopy): ParkedRef => ({ wabaId: c.wabaId, orderKey: c.orderKey });
export const bump = (p: ReleaseProgress, key: 'sent' | 'deadLettered' | 'alreadySent'): ReleaseProgress => {
  const next = { ...p, [key]: p[key] + 1 };
  return { ...next, left: Math.max(0, next.total - next.sent - next.deadLettered - next.alreadySent) };
};
export const withoutReason = (p: ReleaseProgress): ReleaseProgress => {
  const { reason: _r, finishedAt: _f, ...rest } = p;
  return rest;
};

/**
 * Copies of messages that left are deleted in batches (a copy left behind by a crash is harmless: the next release
 * finds its message final and deletes it then).
 */
export const forget = async (deps: EndDeps, run: RunState, ref: ParkedRef): Promise<void> => {
  run.toRemove.push(ref);
  if (run.toRemove.length >= 25) await flush(deps, run);
};

export const flush = async (deps: EndDeps, run: RunState): Promise<void> => {
  const refs = run.toRemove.splice(0);
  if (refs.length > 0) await deps.parked.remove(refs);
  await run.events?.flush();
};

/**
 * The set looked empty: clear the drain flag and look once more (a message may have parked behind the release between
 * the last page and the flag's end). Returns the result when the run is done, null when it must go round again.
 */
export const finishRound = async (deps: EndDeps, run: RunState): Promise<ReleaseRunResult | null> => {
  const { wabaId } = run.request;
  const done = { ...run.progress, state: 'done' as const, left: 0, updatedAt: iso(deps.now()), finishedAt: iso(deps.now()) };
  const cleared = await deps.control.finish(wabaId, run.releaseId, done, run.drainSince);
  const again = await deps.parked.list(wabaId, 1);
  if (cleared && again.items.length === 0) {
    run.progress = done;
    deps.telemetry.count('ReleasesCompleted');
    deps.telemetry.info('release done', { wabaId, sent: done.sent, deadLettered: done.deadLettered, alreadySent: done.alreadySent });
    return { outcome: 'done', progress: done };
  }
  // More to do: a newer request set the flag again, or a message parked in between. Take the client again.
  const retake = await deps.control.begin(wabaId, run.releaseId, deps.now(), deps.leaseMs, { ...run.progress, updatedAt: iso(deps.now()) });
  if (!retake.ok) return { outcome: 'lease-lost', progress: run.progress };
  run.drainSince = retake.drainSince;
  return null;
};

export const stopRun = async (deps: EndDeps, run: RunState): Promise<ReleaseRunResult> => {
  const { control, parked, requests, telemetry } = deps;
  const stop = run.stop as NonNullable<RunState['stop']>;
  const wabaId = run.request.wabaId;
  await flush(deps, run);
  if (stop.kind === 'lease') return { outcome: 'lease-lost', progress: run.progress };
  const nowMs = deps.now();
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
    // The Cloud API refused as if the client could not send though its status says it may: the client is held (its
    // probe asks for a release when it can send), and this continuation looks again later whatever happens.
    const runs = (run.request.notConnectedRuns ?? 0) + 1;
    const delay = clampDelay(NOT_CONNECTED_BASE_DELAY_S * 2 ** Math.min(runs - 1, 5));
    await requests.enqueue({ wabaId, trigger: run.request.trigger, requestedAt: iso(nowMs), continuationOf: run.releaseId, notConnectedRuns: runs }, delay);
    const progress = { ...run.progress, state: 'paused' as const, left: count, updatedAt: iso(nowMs), reason: stop.reason };
    await control.finish(wabaId, run.releaseId, progress, null);
    telemetry.count('ReleasesPaused');
    return { outcome: 'continued', progress };
  }
  // Re-offboarded, held (or worse): stop at once; what is left stays parked and goes with the next release.
  const progress = { ...run.progress, state: 'stopped' as const, left: count, updatedAt: iso(nowMs), finishedAt: iso(nowMs), reason: stop.reason };
  await control.finish(wabaId, run.releaseId, progress, run.drainSince);
  telemetry.count('ReleasesStopped');
  telemetry.info('release stopped: client may no longer send', { wabaId, left: count, sent: progress.sent, reason: stop.reason });
  return { outcome: 'stopped', progress };
};

/**
 * Recipients must wait (pair rate, retryable errors, restrictions): the run queues its continuation for when the first
 * may go. While a recipient waits for its turn, the drain flag stays (new messages park behind the ones waiting);
 * when only restrictions hold messages back, the flag is cleared and the continuation comes when the first expires.
 */
export const pauseRun = async (deps: EndDeps, run: RunState): Promise<ReleaseRunResult> => {
  const wabaId = run.request.wabaId;
  await flush(deps, run);
  const nowMs = deps.now();
  const onlyRestricted = run.blocked.size === 0;
  const until = Math.min(...run.blocked.values(), ...run.restricted.values());
  const delay = clampDelay(Math.ceil((until - nowMs) / 1000));
  const trigger = onlyRestricted && !run.humanHeld ? 'restriction-expired' : run.request.trigger;
  await deps.requests.enqueue({ wabaId, trigger, requestedAt: iso(nowMs), continuationOf: run.releaseId }, delay);
  const { count } = await deps.parked.summary(wabaId);
  // Waiting only for the owner's replies to age out is not a restriction: say which it is.
  const reason = !onlyRestricted ? 'recipients-waiting' : run.humanHeld && !run.restrictionHeld ? 'human-replied' : 'restricted';
  const progress = { ...run.progress, state: 'paused' as const, left: count, updatedAt: iso(nowMs), reason };
  await deps.control.finish(wabaId, run.releaseId, progress, onlyRestricted ? run.drainSince : null);
  deps.telemetry.count('ReleasesPaused');
  deps.telemetry.info('release paused: recipients must wait', { wabaId, left: count, delaySeconds: delay, reason });
  return { outcome: 'continued', progress };
};
