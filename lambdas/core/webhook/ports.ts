/** The ports of the webhook: where inbound changes go. */
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

/** Where a change's `value` is stored when it is too large for one SQS message: an object the message points at. */
export interface ValueRef {
  readonly bucket: string;
  readonly key: string;
  /** Bytes of the stored object: the value's JSON text, UTF-8. */
  readonly bytes: number;
  /** SHA-256 (hex) of exactly those bytes. */
  readonly sha256: string;
}

/** Stores changes too large for one SQS message (an S3 bucket of the stack). */
export interface LargeValueStore {
  /**
   * Stores `body` (JSON, UTF-8) under `key`, replacing what is there (a redelivery writes the same bytes to the same
   * key); resolves with the bucket once the object is durably stored, throws otherwise.
   */
  put(key: string, body: Buffer, sha256: string): Promise<{ readonly bucket: string }>;
}
