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
