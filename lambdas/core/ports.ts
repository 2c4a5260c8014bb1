import type { ClientStatus, EventEffect, LatestByClass, StatusClass, StatusEventRecord } from './client-status.js';
import type { ClientHealth, DisableWarningRecord, HoldRecord, ProbeRecord, RestrictionRecord } from './client-health.js';
import type { CloudApiResult } from './cloud-api-result.js';
import type { ProbeResult } from './probe.js';

/** What the relay knows about one client WABA. */
export interface ClientRecord {
  readonly wabaId: string;
  readonly firstSeenAt: string;
  readonly latest: LatestByClass;
  readonly counters: ClientCounters;
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
  /** Makes `record` the latest of its class unless an equal or later one is stored (a conditional write). */
  applyStatusEvent(wabaId: string, cls: StatusClass, record: StatusEventRecord): Promise<ApplyStatusEventResult>;
  /** Creates the client if it is new (for events that do not change status); returns its class records. */
  touchClient(wabaId: string, nowIso: string): Promise<LatestByClass>;
  /**
   * Clears the client's status records (the latest event of each class) and its offboarded listing, in one
   * conditional write; the client then reads CONNECTED (never seen). Returns the records as they were, or null for a
   * client never seen (nothing is written then).
   */
  resetStatus(wabaId: string, nowIso: string): Promise<LatestByClass | null>;
  /** Records an event in the client's timeline; recording the same event id twice keeps the first. */
  putTimelineEntry(entry: TimelineEntry): Promise<void>;
  getClient(wabaId: string): Promise<ClientRecord | null>;
  /** Most recent first. */
  listTimeline(wabaId: string, limit: number): Promise<readonly TimelineEntry[]>;
  /** First-parked time (ISO-8601) of the client's longest-parked message still waiting, or null. */
  oldestParkedAt(wabaId: string): Promise<string | null>;
  /** Keeps the latest ACCOUNT_RESTRICTION (by event order key), like a status class. True when this one became the latest. */
  applyRestriction(wabaId: string, restriction: RestrictionRecord): Promise<boolean>;
  /** Keeps the latest SCHEDULE_FOR_DISABLE (by event order key). True when this one became the latest. */
  applyDisableWarning(wabaId: string, warning: DisableWarningRecord): Promise<boolean>;
}

/** A change forwarded to the inbound-events queue. */
export interface InboundEvent {
  readonly dedupeId: string;
  readonly wabaId: string | null;
  readonly field: string;
  readonly entryTime: number | null;
  readonly value?: unknown;
  readonly problem?: string;
  readonly raw?: unknown;
  readonly receivedAt: string;
}

export interface InboundEventSink {
  /** Resolves only when every event is durably queued; throws otherwise. */
  forward(events: readonly InboundEvent[]): Promise<void>;
}

export type PhoneOwnershipSource = 'webhook' | 'send';

/** The WABA a business phone number id was last seen with. */
export interface PhoneOwner {
  readonly wabaId: string;
  readonly learnedFrom: PhoneOwnershipSource;
  /** When it was seen (epoch ms): the latest sighting wins. */
  readonly learnedAt: number;
}

/**
 * Which WABA owns each business phone number id, learned from `messages` webhooks (`entry.id` and
 * `value.metadata.phone_number_id`) and from successful sends. Stored one item per phone number
 * (`PHONE#<phoneNumberId>` / `OWNER`); learning is idempotent and keeps the latest sighting by time.
 */
export interface PhoneOwnership {
  learn(phoneNumberId: string, wabaId: string, source: PhoneOwnershipSource, atMs: number): Promise<void>;
  /** The known owners of these phone number ids (unknown ids are absent from the map). */
  ownerOf(phoneNumberIds: readonly string[]): Promise<ReadonlyMap<string, PhoneOwner>>;
}

/** Counters and structured logs, without tying the domain to a library. */
export interface Telemetry {
  count(metric: string, value?: number, dimensions?: Readonly<Record<string, string>>): void;
  /** A duration in seconds (alarms use its maximum). */
  seconds(metric: string, value: number): void;
  info(message: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
  error(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

export const silentTelemetry: Telemetry = {
  count: () => undefined,
  seconds: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

// ---------------------------------------------------------------------------------------------------------------
// Outbound side

/** Reads the status items of several clients at once (one request per batch, strongly consistent). */
export interface ClientStatusReader {
  readLatest(wabaIds: readonly string[]): Promise<ReadonlyMap<string, LatestByClass>>;
}

/** What the consumer reads once per batch before deciding anything. */
export interface BatchContext {
  /** Status records by client WABA id (a client never seen is absent). */
  readonly latest: ReadonlyMap<string, LatestByClass>;
  /** Health evidence (hold, probes, restrictions) by client WABA id, read with the status records. */
  readonly health: ReadonlyMap<string, ClientHealth>;
  /** Known owners by phone number id (a number never seen is absent). */
  readonly phoneOwners: ReadonlyMap<string, PhoneOwner>;
}

/** The consumer's one read per batch: client statuses and phone number owners together (one request when it can). */
export interface BatchContextReader {
  readBatch(wabaIds: readonly string[], phoneNumberIds: readonly string[]): Promise<BatchContext>;
}

/** What one batch did for one client; written as a single counter update (observability, best effort). */
export interface ClientActivity {
  readonly wabaId: string;
  readonly parked: number;
  readonly sent: number;
  readonly deadLettered: number;
  readonly ambiguousResends: number;
  /** Messages parked for the first time: a marker is kept until they leave, for the oldest-parked age. */
  readonly newlyParked: readonly { readonly messageId: string; readonly firstParkedAt: string }[];
  /** Parked messages that left (sent or dead-lettered): their markers go. */
  readonly unparked: readonly { readonly messageId: string; readonly firstParkedAt: string }[];
  /** The phone number of the client's latest message in the batch: what a stale-offboarding probe reads. */
  readonly phoneNumberId?: string;
}

export interface ActivityRecorder {
  record(activity: readonly ClientActivity[], nowMs: number): Promise<void>;
}

export interface QueueMessage {
  readonly id: string;
  readonly body: string;
  readonly delaySeconds?: number;
  readonly attributes?: Readonly<Record<string, string>>;
}

export interface OutboundQueues {
  /** Sends to the delay queue; returns the ids that were NOT accepted. */
  park(messages: readonly QueueMessage[]): Promise<ReadonlySet<string>>;
  /** Sends to the dead-letter queue; returns the ids that were NOT accepted. */
  deadLetter(messages: readonly QueueMessage[]): Promise<ReadonlySet<string>>;
}

export interface CloudApi {
  send(phoneNumberId: string, payload: Readonly<Record<string, unknown>>, token: string): Promise<CloudApiResult>;
}

export interface TokenProvider {
  /** Throws `NoTokenError` (core/errors.ts) when no token is configured for the WABA; anything else is transient. */
  tokenFor(wabaId: string): Promise<string>;
}

/**
 * Asks for a client's parked messages to be released now (issue 11's release path). Durable: resolves only once the
 * request is queued. Requests are idempotent: releasing a client with nothing parked does nothing.
 */
export interface ReleaseRequester {
  requestRelease(wabaId: string, trigger: ReleaseTrigger): Promise<void>;
}

/** Why a release was asked for: shown on the client's status and in logs. */
export type ReleaseTrigger = 'status-connected' | 'probe-can-send' | 'restriction-expired' | 'operator';

// ---------------------------------------------------------------------------------------------------------------
// Client health: holds, probes, restrictions (see client-health.ts)

/** Health evidence on the client's status item. Every write is conditional; none is a read-modify-write. */
export interface ClientHealthStore {
  /**
   * Starts `hold` unless another hold started since the caller read the client (`replacing`: the id of the hold the
   * caller saw, ended, or null when it saw none). True when this call started it.
   */
  tripHold(wabaId: string, hold: HoldRecord, replacing: string | null): Promise<boolean>;
  /** Takes the client's probe turn: true (and the next turn is at `nextProbeAtMs`) unless the turn is not due yet. */
  claimProbe(wabaId: string, nowMs: number, nextProbeAtMs: number): Promise<boolean>;
  /** Records a probe unless a later one is recorded; a can-send probe also moves `canSendAtMs` forward. */
  recordProbe(wabaId: string, probe: ProbeRecord): Promise<boolean>;
}

/** `GET /{version}/{phone-number-id}?fields=...` with the client's token. Never throws. */
export interface PhoneNumberProbe {
  probe(phoneNumberId: string, token: string): Promise<ProbeResult>;
}
