import { type ClientHealth, clientGate, type ProbeReason } from './client-health.js';
import type { ClientHealthService } from './client-health-service.js';
import type { LatestByClass } from '../status/client-status.js';
import { mapLimit } from '../shared/concurrency.js';
import type { Telemetry } from '../shared/telemetry.js';

/** A client listed in the offboarded index (offboarded, or held by the relay), with the key its listing was made under. */
export interface OffboardedListing {
  readonly wabaId: string;
  readonly latest: LatestByClass;
  /** The key of the offboarding or hold that listed it; an unlisting only succeeds while it is unchanged. */
  readonly listingKey: string;
  readonly health: ClientHealth;
  /** The phone number id of the client's latest outbound message, or null. */
  readonly phoneNumberId: string | null;
}

export interface OffboardedIndex {
  list(): Promise<readonly OffboardedListing[]>;
  /** Removes the client from the index unless a newer offboarding or hold listed it again meanwhile. */
  unlist(wabaId: string, listingKey: string): Promise<void>;
}

export interface ProbeDue {
  readonly listing: OffboardedListing;
  readonly reason: Extract<ProbeReason, 'hold-backoff' | 'stale-offboarding'>;
  readonly phoneNumberId: string;
}

export interface SweepSummary {
  /** Clients offboarded right now. */
  readonly offboarded: number;
  /** The longest any of them has been offboarded, in seconds (0 when none is). */
  readonly longestSeconds: number;
  readonly longestWabaId: string | null;
  /** Clients the relay holds right now (a send was refused as if the number were not connected). */
  readonly held: number;
  /** Listed clients neither offboarded nor held any more: to take out of the index. */
  readonly stale: readonly OffboardedListing[];
  /** Probes due this run: held clients on their backoff first, then the longest offboardings. */
  readonly probesDue: readonly ProbeDue[];
}

export interface SweepPolicy {
  readonly reconnectSkewMs: number;
  readonly probeEndsOffboarding: boolean;
  /** Offboarded longer than this: probe it (when a phone number is known). */
  readonly staleOffboardingSeconds: number;
  readonly maxProbesPerRun: number;
}

/** Pure: who is offboarded or held, for how long, who to unlist and who to probe. */
const summarizeOffboarded = (listings: readonly OffboardedListing[], nowMs: number, policy: SweepPolicy): SweepSummary => {
  let offboarded = 0;
  let held = 0;
  let longestSeconds = 0;
  let longestWabaId: string | null = null;
  const stale: OffboardedListing[] = [];
  const holdProbes: ProbeDue[] = [];
  const staleProbes: (ProbeDue & { seconds: number })[] = [];
  for (const l of listings) {
    const gate = clientGate(l.latest, l.health, nowMs, policy);
    const due = l.health.nextProbeAtMs === undefined || l.health.nextProbeAtMs <= nowMs;
    const isHeld = gate.hold.state === 'in-force' && (gate.status === 'CONNECTED' || gate.status === 'OFFBOARDED');
    const setBy = gate.derived.setBy;
    const isOffboarded = gate.status === 'OFFBOARDED' && setBy !== null;
    if (!isHeld && !isOffboarded) {
      stale.push(l);
      continue;
    }
    if (isHeld && gate.hold.state === 'in-force') {
      held++;
      if (due && gate.hold.hold.phoneNumberId) holdProbes.push({ listing: l, reason: 'hold-backoff', phoneNumberId: gate.hold.hold.phoneNumberId });
    }
    if (isOffboarded && setBy) {
      offboarded++;
      const since = Date.parse(setBy.appliedAt);
      const seconds = Number.isNaN(since) ? 0 : Math.max(0, Math.round((nowMs - since) / 1000));
      if (seconds >= longestSeconds) {
        longestSeconds = seconds;
        longestWabaId = l.wabaId;
      }
      const number = l.phoneNumberId ?? l.health.hold?.phoneNumberId ?? null;
      if (!isHeld && due && number && seconds > policy.staleOffboardingSeconds) {
        staleProbes.push({ listing: l, reason: 'stale-offboarding', phoneNumberId: number, seconds });
      }
    }
  }
  staleProbes.sort((a, b) => b.seconds - a.seconds);
  const probesDue = [...holdProbes, ...staleProbes.map(({ seconds: _s, ...p }) => p)].slice(0, Math.max(0, policy.maxProbesPerRun));
  return { offboarded, longestSeconds, longestWabaId, held, stale, probesDue };
};

/**
 * Runs on a schedule: reports how many clients are offboarded or held and the longest offboarding (the
 * ClientOffboardedTooLong and ClientsHeld alarms), whether or not they have messages waiting; probes held clients on
 * their backoff and long offboardings at a low rate; keeps the index small.
 */
export const sweepOffboarded = async (
  index: OffboardedIndex,
  telemetry: Telemetry,
  nowMs: number,
  policy: SweepPolicy,
  health?: ClientHealthService,
): Promise<SweepSummary & { readonly probed: number }> => {
  const listings = await index.list();
  const summary = summarizeOffboarded(listings, nowMs, policy);
  telemetry.count('ClientsOffboarded', summary.offboarded);
  telemetry.count('ClientsHeld', summary.held);
  telemetry.seconds('ClientOffboardedSeconds', summary.longestSeconds);
  let probed = 0;
  if (health && summary.probesDue.length > 0) {
    await mapLimit(summary.probesDue, 4, async (p) => {
      try {
        const gate = clientGate(p.listing.latest, p.listing.health, nowMs, policy);
        const outcome = await health.probe(p.listing.wabaId, p.phoneNumberId, p.reason, { gate, health: p.listing.health });
        if (outcome) probed++;
      } catch (error) {
        telemetry.warn('probe failed; the next sweep tries again', { wabaId: p.listing.wabaId, reason: p.reason, error: String(error) });
      }
    });
  }
  if (summary.longestWabaId) {
    const longest = listings.find((l) => l.wabaId === summary.longestWabaId);
    const probe = longest?.health.probe;
    telemetry.info('offboarded clients', {
      offboarded: summary.offboarded,
      held: summary.held,
      longestSeconds: summary.longestSeconds,
      wabaId: summary.longestWabaId,
      ...(probe ? { lastProbe: { at: new Date(probe.atMs).toISOString(), verdict: probe.verdict, detail: probe.detail } } : {}),
    });
  }
  const results = await Promise.allSettled(summary.stale.map((s) => index.unlist(s.wabaId, s.listingKey)));
  const failed = results.filter((r) => r.status === 'rejected').length;
  if (failed > 0) telemetry.warn('could not unlist some reconnected clients; next sweep retries', { failed });
  return { ...summary, probed };
};
