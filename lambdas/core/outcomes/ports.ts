import type { OutboundEnvelope } from '../outbound/envelope.js';
import type { MessageKey } from '../outbound/send-ledger.js';
import type { OutcomeEntry, OutcomeHistory } from './message-outcome.js';
import type { RelayEvent } from './relay-events.js';

/** The ports of message outcomes and relay events. */
/**
 * Publishes relay events (SNS topic `relay-events` in AWS and under `npm start`). Resolves once every event is
 * accepted; throws when any is not (the caller's retry re-publishes, and subscribers dedupe on the event id).
 */
export interface RelayEventPublisher {
  publish(events: readonly RelayEvent[]): Promise<void>;
}

/** Publishes nothing: for wiring where events are not configured. */
export const noRelayEvents: RelayEventPublisher = { publish: async () => undefined };

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
