import type { ClientStatus, EventEffect, LatestByClass, StatusClass, StatusEventRecord } from './client-status.js';
import type { ClientHealth, DisableWarningRecord, HoldRecord, ProbeRecord, RestrictionRecord } from './client-health.js';
import type { CloudApiResult } from './cloud-api-result.js';
import type { ProbeResult } from './probe.js';
import type { RelayEvent } from './relay-events.js';
import type { OutcomeEntry, OutcomeHistory } from './message-outcome.js';
import type { LedgerView, MessageKey } from './send-ledger.js';
import type { OutboundEnvelope } from './envelope.js';

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
  /** The release's drain flag and last sign of life by client WABA id (issue 11). */
  readonly releases: ReadonlyMap<string, { readonly drainSince: number | null; readonly beatAt: number | null }>;
  /** The send ledger entries of the messages asked for, by {@link messageIdentity} (a message never claimed is absent). */
  readonly ledger: ReadonlyMap<string, LedgerView>;
}

/** A message's identity as a map key: the same `messageId` under two WABAs is two messages. */
export const messageIdentity = (k: MessageKey): string => `${k.wabaId}\u0000${k.messageId}`;

/**
 * The one read before acting on a batch: client statuses, phone number owners and the messages' ledger entries
 * together (one request when it can).
 */
export interface BatchContextReader {
  readBatch(wabaIds: readonly string[], phoneNumberIds: readonly string[], messages?: readonly MessageKey[]): Promise<BatchContext>;
}

/** What one batch did for one client; written as a single counter update (observability, best effort). */
export interface ClientActivity {
  readonly wabaId: string;
  readonly parked: number;
  readonly sent: number;
  readonly deadLettered: number;
  readonly ambiguousResends: number;
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
// Release side (issue 11): parked copies, the release of a client's parked messages, pacing

/**
 * The durable copy of a parked message, kept beside its client until the message leaves (sent or dead-lettered).
 * Copies are read back in first-enqueued order (`orderKey`), which is the order a release sends them in.
 */
export interface ParkedCopy {
  readonly wabaId: string;
  readonly messageId: string;
  /** {@link parkedOrderKey} of the first-enqueued time and the messageId: the copy's place in its client's set. */
  readonly orderKey: string;
  /** When upstream first enqueued the message (the outbound queue's SentTimestamp), ms. */
  readonly firstEnqueuedMs: number;
  readonly firstParkedAt: string;
  readonly phoneNumberId: string;
  /** `payload.to`: with the phone number, the recipient whose messages must leave in order. */
  readonly recipient: string;
  readonly parkCount: number;
  readonly sendAttempts: number;
  /** Pair-rate (131056) answers met so far: the backoff grows with them; never counts toward MAX_SEND_ATTEMPTS. */
  readonly rateLimitHits: number;
  /** The envelope exactly as enqueued. */
  readonly body: string;
}

/** A stored copy as read back: readable, or not (then its raw text, for the `invalid-envelope` dead letter). */
export type StoredParkedCopy =
  | { readonly ok: true; readonly copy: ParkedCopy }
  | { readonly ok: false; readonly wabaId: string; readonly orderKey: string; readonly raw: string; readonly problem: string };

export interface ParkedRef {
  readonly wabaId: string;
  readonly orderKey: string;
}

export interface ParkedStore {
  /** Writes (or rewrites) copies; returns the messageIds whose copy was not written. */
  put(copies: readonly ParkedCopy[]): Promise<ReadonlySet<string>>;
  /** Deletes copies (a copy already gone is fine). */
  remove(refs: readonly ParkedRef[]): Promise<void>;
  /** One page of a client's copies in first-enqueued order, starting after `cursor`. */
  list(wabaId: string, limit: number, cursor?: string): Promise<{ readonly items: readonly StoredParkedCopy[]; readonly cursor: string | null }>;
  /** How many copies the client has now, and when the longest-waiting one was first parked. */
  summary(wabaId: string): Promise<{ readonly count: number; readonly oldestParkedAt: string | null }>;
  /** Records retry counters on a copy that stays parked. */
  updateCounters(ref: ParkedRef, counters: { readonly sendAttempts: number; readonly rateLimitHits: number }): Promise<void>;
}

export const RELEASE_STATES = ['running', 'paused', 'done', 'stopped'] as const;
export type ReleaseState = (typeof RELEASE_STATES)[number];

/** The last release of a client, kept on its status item (GET /clients/{wabaId} shows it). */
export interface ReleaseProgress {
  readonly releaseId: string;
  readonly trigger: ReleaseTrigger;
  readonly state: ReleaseState;
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly finishedAt?: string;
  /** Parked messages when the release started. */
  readonly total: number;
  readonly sent: number;
  readonly deadLettered: number;
  /** Found already sent (their delayed copy, or another path, got there first): removed without a send. */
  readonly alreadySent: number;
  /** Still parked (estimate while running; counted when the release pauses, stops or ends). */
  readonly left: number;
  /** Why it stopped or paused (`client-offboarded`, `rate-limited`, ...). */
  readonly reason?: string;
}

/** The release-related part of a client's status item, read strongly consistent. */
export interface ReleaseGate {
  readonly latest: LatestByClass;
  /** Set while the client's parked messages drain: new messages for it park behind them. Epoch ms, or null. */
  readonly drainSince: number | null;
  /** Last sign of life of a running release (epoch ms), or null. */
  readonly beatAt: number | null;
  readonly lastRelease: ReleaseProgress | null;
}

export type BeginRelease =
  | { readonly ok: true; readonly drainSince: number; readonly previous: ReleaseProgress | null }
  /** Another live release holds the client. */
  | { readonly ok: false; readonly leaseUntilMs: number };

/** The release lease, drain flag and progress on the client's status item. Conditional writes only. */
export interface ReleaseStore {
  read(wabaId: string): Promise<ReleaseGate>;
  /** Takes the client's release lease unless a live one is held, sets the drain flag if absent, records `progress`. */
  begin(wabaId: string, releaseId: string, nowMs: number, leaseMs: number, progress: ReleaseProgress): Promise<BeginRelease>;
  /** Records progress and renews the lease; false when the lease is no longer this release's. */
  heartbeat(wabaId: string, releaseId: string, nowMs: number, leaseMs: number, progress: ReleaseProgress): Promise<boolean>;
  /**
   * Gives the lease up and records `progress`. With `clearDrainIf`, also clears the drain flag, but only while it still
   * holds that value (a newer request set it again: the flag stays). Returns whether the flag was cleared.
   */
  finish(wabaId: string, releaseId: string, progress: ReleaseProgress, clearDrainIf: number | null): Promise<boolean>;
  /** Sets the drain flag unless it is set (the webhook on a reconnection, the consumer when it finds a release due). */
  markDrain(wabaId: string, nowMs: number): Promise<void>;
}

/** Send slots per phone number, shared by every instance. */
export interface Pacer {
  /** Reserves the next free slot of `phoneNumberId`; resolves with its time (epoch ms, >= nowMs). */
  reserve(phoneNumberId: string, nowMs: number): Promise<number>;
}

/** A release request as it travels on the release queue. */
export interface ReleaseRequest {
  readonly wabaId: string;
  readonly trigger: ReleaseTrigger;
  readonly requestedAt: string;
  /** Set on the request a release queues for itself (time limit, rate-limit backoff): continue its counters. */
  readonly continuationOf?: string;
  /** Consecutive runs stopped by a "not connected" answer from the Cloud API (the next one waits longer). */
  readonly notConnectedRuns?: number;
}

/** The release queue: requests are durable once `enqueue` resolves. */
export interface ReleaseQueue {
  enqueue(request: ReleaseRequest, delaySeconds?: number): Promise<void>;
}

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

// ---------------------------------------------------------------------------------------------------------------
// Relay events (see relay-events.ts)

/**
 * Publishes relay events (SNS topic `relay-events` in AWS and under `npm start`). Resolves once every event is
 * accepted; throws when any is not (the caller's retry re-publishes, and subscribers dedupe on the event id).
 */
export interface RelayEventPublisher {
  publish(events: readonly RelayEvent[]): Promise<void>;
}

/** Publishes nothing: for wiring where events are not configured. */
export const noRelayEvents: RelayEventPublisher = { publish: async () => undefined };

// ---------------------------------------------------------------------------------------------------------------
// Message outcomes (issue 13, see message-outcome.ts)

/** What to send instead should the message fail because the 24-hour window closed (kept from the envelope). */
export interface StoredFallback {
  readonly phoneNumberId: string;
  readonly payload: Readonly<Record<string, unknown>>;
}

/** Everything the relay keeps about one message. */
export interface MessageRecord {
  readonly history: OutcomeHistory;
  readonly fallback: StoredFallback | null;
  /** The send ledger's entry: its state and, once Meta accepted the message, the wamid and when. */
  readonly ledger: { readonly state: string; readonly wamid: string | null; readonly sentAt: string | null } | null;
}

/** Message outcomes and what ties Meta's statuses back to a message. Every write is conditional or idempotent. */
export interface MessageOutcomeStore {
  /**
   * Records `entry` unless an entry of its state that sorts before it is kept (see `keeps`): one conditional write.
   * With `expectWamid` (a status from Meta), only on the message the relay sent with that wamid. Returns the history
   * after the write (and the stored fallback), null when the entry was not kept, `wamid-mismatch` when the message
   * has another wamid or none (the status is not about it).
   */
  record(
    key: MessageKey,
    entry: OutcomeEntry,
    nowMs: number,
    expectWamid?: string,
  ): Promise<{ readonly history: OutcomeHistory; readonly fallback: StoredFallback | null } | null | 'wamid-mismatch'>;
  /**
   * At send time, what a later status needs: the wamid -> message item when the status will not carry the relay's
   * callback data, and the fallback when the envelope has one. Nothing to write: no request.
   */
  recordSend(key: MessageKey, send: { readonly wamid: string; readonly rememberWamid: boolean; readonly fallback?: StoredFallback }, nowMs: number): Promise<void>;
  /** The messages these wamids belong to (wamids the relay never recorded are absent): one batched read. */
  findByWamid(wamids: readonly string[]): Promise<ReadonlyMap<string, MessageKey>>;
  /** The message's outcome item and send ledger entry (one Query); null when the relay knows nothing of it. */
  read(key: MessageKey): Promise<MessageRecord | null>;
}

/** Puts envelopes on the outbound queue (a fallback the webhook learned is due). Durable once it resolves. */
export interface OutboundEnqueuer {
  enqueue(envelopes: readonly OutboundEnvelope[]): Promise<void>;
}
