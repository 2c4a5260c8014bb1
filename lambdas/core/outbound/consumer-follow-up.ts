/**
 * What a consumer batch does about its clients besides their messages: hold a client whose send was refused, probe
 * held clients, and make sure messages parked behind a release will be taken by one. Best effort throughout: the
 * messages themselves are already sent, parked or dead-lettered.
 */
import type { ClientGate, HoldRecord } from '../health/client-health.js';
import type { ClientHealthService } from '../health/client-health-service.js';
import type { CloudApiError } from './cloud-api-result.js';
import { mapLimit } from '../shared/concurrency.js';
import type { OutboundEnvelope } from './envelope.js';
import type { BatchContext, BatchContextReader } from './ports.js';
import type { ReleaseRequester } from '../release/ports.js';
import type { Telemetry } from '../shared/telemetry.js';
import { releaseOverdue } from '../release/release-rules.js';
import type { HoldReason } from './send-policy.js';

/** What one batch learns about its clients while it runs. */
export interface BatchFollowUp {
  readonly gates: ReadonlyMap<string, ClientGate>;
  readonly context: BatchContext;
  /** Clients whose send was refused as if they could not send during this batch: their other messages park at once. */
  readonly held: Set<string>;
  /** Holds this batch started (to probe right after). */
  readonly started: Map<string, HoldRecord>;
  /** Clients whose messages parked behind a release. */
  readonly behind: Set<string>;
}

interface Deps {
  readonly health?: ClientHealthService;
  readonly telemetry: Telemetry;
  readonly now: () => number;
}

/** A refused send: hold the client at once (one hold per episode, whatever other workers do). */
export const tripHold = async (
  deps: Deps,
  run: BatchFollowUp,
  envelope: OutboundEnvelope,
  error: CloudApiError | null,
  why: string,
  reason: HoldReason,
): Promise<void> => {
  const wabaId = envelope.wabaId;
  const first = !run.held.has(wabaId);
  run.held.add(wabaId);
  if (!deps.health || !first) return;
  const gate = run.gates.get(wabaId) as ClientGate;
  try {
    const hold = await deps.health.tripHold(wabaId, gate.hold, { phoneNumberId: envelope.phoneNumberId, messageId: envelope.messageId, error, why, reason });
    if (hold) run.started.set(wabaId, hold);
  } catch (e) {
    // The message still parks; the next refused send tries again.
    deps.telemetry.warn('could not record the hold', { wabaId, error: String(e) });
  }
};

/** Probes each client this batch held, and each held client whose probe turn has come. */
export const probeHeld = async (deps: Deps, run: BatchFollowUp): Promise<void> => {
  const health = deps.health;
  if (!health) return;
  const nowMs = deps.now();
  const due: { wabaId: string; phoneNumberId: string; reason: 'hold-started' | 'hold-backoff'; gate: ClientGate }[] = [];
  for (const [wabaId, hold] of run.started) {
    const gate = run.gates.get(wabaId) as ClientGate;
    due.push({ wabaId, phoneNumberId: hold.phoneNumberId, reason: 'hold-started', gate: { ...gate, hold: { state: 'in-force', hold } } });
  }
  for (const [wabaId, gate] of run.gates) {
    if (run.started.has(wabaId) || gate.hold.state !== 'in-force') continue;
    const next = run.context.health.get(wabaId)?.nextProbeAtMs;
    if (next === undefined || next <= nowMs) due.push({ wabaId, phoneNumberId: gate.hold.hold.phoneNumberId, reason: 'hold-backoff', gate });
  }
  await mapLimit(due, 4, async (d) => {
    try {
      await health.probe(d.wabaId, d.phoneNumberId, d.reason, { gate: d.gate, health: run.context.health.get(d.wabaId) ?? {} });
    } catch (error) {
      deps.telemetry.warn('probe failed; the hold stays', { wabaId: d.wabaId, error: String(error) });
    }
  });
};

/**
 * Messages just parked behind a release: make sure a release will take them. If the release ended meanwhile (its
 * last look came before these copies were written) or shows no sign of life, ask for one. Requests are idempotent.
 */
export const checkReleases = async (
  deps: Deps & { readonly statuses: BatchContextReader; readonly releases: ReleaseRequester },
  wabaIds: ReadonlySet<string>,
  before: BatchContext['releases'],
  nowMs: number,
): Promise<void> => {
  const t = deps.telemetry;
  try {
    const after = (await deps.statuses.readBatch([...wabaIds], [])).releases;
    for (const wabaId of wabaIds) {
      const now = after.get(wabaId) ?? NO_RELEASE;
      const ended = now.drainSince === null;
      const overdue = releaseOverdue(now, nowMs) || releaseOverdue(before.get(wabaId) ?? NO_RELEASE, nowMs);
      if (!ended && !overdue) continue;
      t.count('ReleaseRequestedByConsumer');
      t.info('messages wait behind a release that ended or stalled; asking for one', { wabaId, ended, overdue });
      await deps.releases.requestRelease(wabaId, 'status-connected');
    }
  } catch (error) {
    // The copies are written and the delay queue holds the messages: they still go when their hop ends.
    t.error('could not check or request a release; parked messages wait for their delay hop', { error: String(error) });
  }
};

const NO_RELEASE = { drainSince: null, beatAt: null } as const;
