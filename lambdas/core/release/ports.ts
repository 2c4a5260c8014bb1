import type { LatestByClass } from '../status/client-status.js';

/** The ports of the release: parked copies, the release lease and progress, pacing, the release queue. */
/**
 * Asks for a client's parked messages to be released now (issue 11's release path). Durable: resolves only once the
 * request is queued. Requests are idempotent: releasing a client with nothing parked does nothing.
 */
export interface ReleaseRequester {
  requestRelease(wabaId: string, trigger: ReleaseTrigger): Promise<void>;
}

/** Why a release was asked for: shown on the client's status and in logs. */
export type ReleaseTrigger = 'status-connected' | 'probe-can-send' | 'restriction-expired' | 'operator';

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
  /** `payload.to`, else `payload.recipient` (a BSUID): with the phone number, the recipient whose messages leave in order. */
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
