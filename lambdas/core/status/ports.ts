import type { ClientHealth, DisableWarningRecord, RestrictionRecord } from '../health/client-health.js';
import type { ReleaseProgress } from '../release/ports.js';
import type { ClientStatus, EventEffect, LatestByClass, StatusClass, StatusEventRecord } from './client-status.js';
import type { ClientTally } from './tally.js';

/** The ports of client status: the status store and what it returns. */
/** What the relay knows about one client WABA. */
export interface ClientRecord {
  readonly wabaId: string;
  readonly firstSeenAt: string;
  readonly latest: LatestByClass;
  readonly counters: ClientCounters;
  /** The release part of the status item: whether one is draining, and the last one. */
  readonly release: { readonly drainSince: number | null; readonly last: ReleaseProgress | null };
  /** Holds, probes, restrictions: evidence beside the status (client-health.ts). */
  readonly health: ClientHealth;
  /** The phone number id of the client's latest outbound message, or null: what a stale-offboarding probe reads. */
  readonly phoneNumberId: string | null;
}

export interface ClientCounters {
  readonly parked: number;
  readonly sent: number;
  readonly deadLettered: number;
  readonly ambiguousResends: number;
}

/** Where the tally function adds what a batch of message changes counted (`tally.ts`). */
export interface CounterStore {
  /** Adds each client's tally once: the same `batchId` again (a retried batch) adds nothing. */
  add(tallies: readonly ClientTally[], batchId: string, nowMs: number): Promise<void>;
}

export interface TimelineEntry {
  readonly wabaId: string;
  readonly eventId: string;
  readonly event: string;
  readonly eventTimeMs: number;
  readonly receivedAt: string;
  readonly statusClass: StatusClass | null;
  readonly effect: EventEffect;
  readonly statusBefore: ClientStatus;
  readonly statusAfter: ClientStatus;
  readonly detail?: Readonly<Record<string, unknown>>;
  /** Epoch seconds after which the store may delete the entry. */
  readonly expiresAt: number;
}

export interface ApplyStatusEventResult {
  /** The class records as they were just before this write (or as found when the write was refused). */
  readonly before: LatestByClass;
  /** True when this event became the latest of its class. */
  readonly written: boolean;
  /** The client's health evidence as it was just before this write (to tell when a status event ends a hold). */
  readonly beforeHealth?: ClientHealth;
}

/**
 * Durable client status. Every method either completes or throws; none leaves a half-applied event. A write the store
 * refuses for good throws `UnstorableError`; anything else (throttling, network, service errors) is worth a retry.
 */
export interface ClientStore {
  /**
   * Makes `record` the latest of its class unless an equal or later one is stored (a conditional write). With
   * `drainSince`, the same write also sets the client's drain flag unless set (a connecting event: new messages wait
   * behind the release it asks for).
   */
  applyStatusEvent(
    wabaId: string,
    cls: StatusClass,
    record: StatusEventRecord,
    options?: { readonly drainSince?: number },
  ): Promise<ApplyStatusEventResult>;
  /** Creates the client if it is new (for events that do not change status); returns its class records. */
  touchClient(wabaId: string, nowIso: string): Promise<LatestByClass>;
  /**
   * Clears the client's status records (the latest event of each class) and its offboarded listing, in one
   * conditional write; the client then reads CONNECTED (never seen). Returns the records as they were, or null for a
   * client never seen (nothing is written then).
   */
  resetStatus(wabaId: string, nowIso: string): Promise<LatestByClass | null>;
  /**
   * Records an event in the client's timeline; recording the same event id twice keeps the first. Returns the entry
   * as stored: `entry`, or the first one recorded (what a redelivered webhook re-publishes its relay event from).
   */
  putTimelineEntry(entry: TimelineEntry): Promise<TimelineEntry>;
  getClient(wabaId: string): Promise<ClientRecord | null>;
  /** Most recent first. */
  listTimeline(wabaId: string, limit: number): Promise<readonly TimelineEntry[]>;
  /** Messages parked now (their parked copies) and the first-parked time of the longest-waiting one. */
  parkedNow(wabaId: string): Promise<{ readonly count: number; readonly oldestParkedAt: string | null }>;
  /** Keeps the latest ACCOUNT_RESTRICTION (by event order key), like a status class. True when this one became the latest. */
  applyRestriction(wabaId: string, restriction: RestrictionRecord): Promise<boolean>;
  /** Keeps the latest SCHEDULE_FOR_DISABLE (by event order key). True when this one became the latest. */
  applyDisableWarning(wabaId: string, warning: DisableWarningRecord): Promise<boolean>;
}

/** Reads the status items of several clients at once (one request per batch, strongly consistent). */
export interface ClientStatusReader {
  readLatest(wabaIds: readonly string[]): Promise<ReadonlyMap<string, LatestByClass>>;
}
