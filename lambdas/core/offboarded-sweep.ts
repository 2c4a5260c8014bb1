import { deriveStatus, type LatestByClass } from './client-status.js';
import type { Telemetry } from './ports.js';

/** A client listed in the offboarded index, with the key its listing was made under. */
export interface OffboardedListing {
  readonly wabaId: string;
  readonly latest: LatestByClass;
  /** The order key of the ACCOUNT_OFFBOARDED that listed it; an unlisting only succeeds while it is unchanged. */
  readonly listingKey: string;
}

export interface OffboardedIndex {
  list(): Promise<readonly OffboardedListing[]>;
  /** Removes the client from the index unless a newer offboarding listed it again meanwhile. */
  unlist(wabaId: string, listingKey: string): Promise<void>;
}

export interface SweepSummary {
  /** Clients offboarded right now. */
  readonly offboarded: number;
  /** The longest any of them has been offboarded, in seconds (0 when none is). */
  readonly longestSeconds: number;
  readonly longestWabaId: string | null;
  /** Listed clients that have since reconnected (or been removed, deleted, ...): to take out of the index. */
  readonly stale: readonly OffboardedListing[];
}

/** Pure: which listed clients are still offboarded, and for how long (from when the relay applied the event). */
export const summarizeOffboarded = (listings: readonly OffboardedListing[], nowMs: number, skewMs: number): SweepSummary => {
  let offboarded = 0;
  let longestSeconds = 0;
  let longestWabaId: string | null = null;
  const stale: OffboardedListing[] = [];
  for (const l of listings) {
    const d = deriveStatus(l.latest, skewMs);
    if (d.status !== 'OFFBOARDED' || !d.setBy) {
      stale.push(l);
      continue;
    }
    offboarded++;
    const since = Date.parse(d.setBy.appliedAt);
    const seconds = Number.isNaN(since) ? 0 : Math.max(0, Math.round((nowMs - since) / 1000));
    if (seconds >= longestSeconds) {
      longestSeconds = seconds;
      longestWabaId = l.wabaId;
    }
  }
  return { offboarded, longestSeconds, longestWabaId, stale };
};

/**
 * Runs on a schedule: reports how many clients are offboarded and the longest offboarding (the
 * ClientOffboardedTooLong alarm), whether or not they have messages waiting, and keeps the index small.
 */
export const sweepOffboarded = async (
  index: OffboardedIndex,
  telemetry: Telemetry,
  nowMs: number,
  skewMs: number,
): Promise<SweepSummary> => {
  const summary = summarizeOffboarded(await index.list(), nowMs, skewMs);
  telemetry.count('ClientsOffboarded', summary.offboarded);
  telemetry.seconds('ClientOffboardedSeconds', summary.longestSeconds);
  if (summary.longestWabaId) {
    telemetry.info('offboarded clients', { offboarded: summary.offboarded, longestSeconds: summary.longestSeconds, wabaId: summary.longestWabaId });
  }
  const results = await Promise.allSettled(summary.stale.map((s) => index.unlist(s.wabaId, s.listingKey)));
  const failed = results.filter((r) => r.status === 'rejected').length;
  if (failed > 0) telemetry.warn('could not unlist some reconnected clients; next sweep retries', { failed });
  return summary;
};
