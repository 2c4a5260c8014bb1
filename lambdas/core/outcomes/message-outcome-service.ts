import { mapLimit } from '../shared/concurrency.js';
import type { OutboundEnvelope } from '../outbound/envelope.js';
import { UnstorableError } from '../shared/errors.js';
import {
  decodeCallbackData,
  entryFromStatus,
  fallbackIdOf,
  isFallbackId,
  type MessageStatusUpdate,
  type OutcomeEntry,
  OUTCOME_RANK,
  outcomeEvent,
  WINDOW_CLOSED,
} from './message-outcome.js';
import type { MessageOutcomeStore, OutboundEnqueuer, RelayEventPublisher } from './ports.js';
import type { Telemetry } from '../shared/telemetry.js';
import type { RelayEvent } from './relay-events.js';
import type { MessageKey } from '../outbound/send-ledger.js';

export interface MessageOutcomeServiceOptions {
  readonly store: MessageOutcomeStore;
  readonly events: RelayEventPublisher;
  readonly telemetry: Telemetry;
  /** Where a fallback goes when a sent message fails because the window closed; absent: no fallback is sent. */
  readonly fallbacks?: OutboundEnqueuer;
  /** Status writes in flight at once. */
  readonly writeConcurrency?: number;
}

/** The statuses of one `messages` change: `wabaId` is the change's `entry.id`. */
export interface StatusBatch {
  readonly wabaId: string;
  readonly phoneNumberId?: string;
  readonly statuses: readonly MessageStatusUpdate[];
}

export interface StatusSummary {
  readonly statuses: number;
  /** Statuses of messages the relay sent (found by callback data or wamid). */
  readonly matched: number;
  /** Of those, statuses whose entry the store kept (a later duplicate or a later time is not kept). */
  readonly kept: number;
  readonly events: number;
  readonly fallbacks: number;
}

/**
 * Message outcomes from Meta's status webhooks, and from what the relay itself does. Each status costs one
 * conditional write; finding its message costs no read when it carries the relay's callback data, else one batched
 * read per webhook for all of them. Events follow the writes; a fallback is queued when a message fails because the
 * 24-hour window closed and its envelope had one.
 */
export class MessageOutcomeService {
  constructor(private readonly o: MessageOutcomeServiceOptions) {}

  async applyStatuses(batches: readonly StatusBatch[], receivedAtMs: number): Promise<StatusSummary> {
    const t = this.o.telemetry;
    const all = batches.flatMap((b) => b.statuses.map((status) => ({ batch: b, status, key: decodeCallbackData(status.callbackData, b.wabaId) })));
    if (all.length === 0) return { statuses: 0, matched: 0, kept: 0, events: 0, fallbacks: 0 };
    const lookup = all.filter((s) => s.key === null && entryFromStatus(s.status, receivedAtMs) !== null).map((s) => s.status.wamid);
    const found = lookup.length > 0 ? await this.o.store.findByWamid(lookup) : new Map<string, MessageKey>();
    const events: RelayEvent[] = [];
    const fallbacks: OutboundEnvelope[] = [];
    let matched = 0;
    let kept = 0;
    const place = (named: ReadonlyMap<string, MessageKey>, list: typeof all) => {
      // Statuses of one message go one after the other, highest state first: the lower ones of the same POST are then
      // history only (one event, for the outcome). Different messages go side by side.
      const byMessage = new Map<string, { key: MessageKey; entry: OutcomeEntry; wamid: string; byData: boolean }[]>();
      for (const { batch, status, key: byData } of list) {
        const entry = entryFromStatus(status, receivedAtMs);
        if (!entry) continue;
        const candidate = byData ?? named.get(status.wamid) ?? null;
        // The wamid item names the WABA that sent: a status under another entry.id is not about that message.
        const key = candidate && candidate.wabaId === batch.wabaId ? candidate : null;
        if (!key) continue;
        const id = `${key.wabaId}\u0000${key.messageId}`;
        byMessage.set(id, [...(byMessage.get(id) ?? []), { key, entry, wamid: status.wamid, byData: byData !== null }]);
      }
      return [...byMessage.values()].map((g) => g.sort((a, b) => OUTCOME_RANK[b.entry.state] - OUTCOME_RANK[a.entry.state]));
    };
    // Callback data in the relay's format names a message only if that message was sent with this status's wamid:
    // a sender's own data in that format is not trusted. Those that do not match are looked up by wamid instead.
    const mismatched = new Set<string>();
    const apply = async (groups: ReturnType<typeof place>) =>
      mapLimit(groups, this.o.writeConcurrency ?? 16, async (group) => {
        for (const { key, entry, wamid, byData } of group) {
          const r = await this.#apply(key, entry, wamid, receivedAtMs, events, fallbacks);
          if (r === 'wamid-mismatch') {
            if (byData) mismatched.add(wamid);
            continue;
          }
          matched++;
          if (r === 'kept') kept++;
        }
      });
    await apply(place(found, all));
    if (mismatched.size > 0) {
      t.count('CallbackDataNotTrusted', mismatched.size);
      const retry = all.filter((s) => mismatched.has(s.status.wamid)).map((s) => ({ ...s, key: null }));
      await apply(place(await this.o.store.findByWamid([...mismatched]), retry));
    }
    // The fallback is durable before anything says the message failed: a failure here fails the webhook (Meta
    // delivers again; the fallback's own send claim keeps it from going twice).
    if (fallbacks.length > 0 && this.o.fallbacks) {
      await this.o.fallbacks.enqueue(fallbacks);
      t.count('FallbacksQueued', fallbacks.length);
      t.info('window closed: fallbacks queued', { fallbacks: fallbacks.length });
    }
    if (events.length > 0) await this.o.events.publish(events);
    t.count('MessageStatuses', all.length);
    if (all.length - matched > 0) t.count('MessageStatusesUnmatched', all.length - matched);
    return { statuses: all.length, matched, kept, events: events.length, fallbacks: fallbacks.length };
  }

  async #apply(
    key: MessageKey,
    entry: OutcomeEntry,
    wamid: string,
    receivedAtMs: number,
    events: RelayEvent[],
    fallbacks: OutboundEnvelope[],
  ): Promise<'kept' | 'not-kept' | 'wamid-mismatch'> {
    const t = this.o.telemetry;
    let after: Awaited<ReturnType<MessageOutcomeStore['record']>>;
    try {
      after = await this.o.store.record(key, entry, receivedAtMs, wamid);
    } catch (error) {
      if (!(error instanceof UnstorableError)) throw error;
      t.warn('message status not storable; ignored for the outcome (still forwarded)', { ...key, problem: error.message });
      return 'not-kept';
    }
    if (after === 'wamid-mismatch') return after;
    if (!after) return 'not-kept';
    let extra: Record<string, unknown> = {};
    if (entry.reason === WINDOW_CLOSED && after.fallback && this.o.fallbacks && !isFallbackId(key.messageId)) {
      const fallbackId = fallbackIdOf(key.messageId);
      fallbacks.push({
        messageId: fallbackId,
        wabaId: key.wabaId,
        phoneNumberId: after.fallback.phoneNumberId,
        payload: after.fallback.payload as OutboundEnvelope['payload'],
        metadata: { fallbackFor: key.messageId },
      });
      extra = { fallbackMessageId: fallbackId };
    }
    const event = outcomeEvent(key, entry, after.history, extra);
    if (event) events.push(event);
    return 'kept';
  }

  /**
   * An outcome the relay itself decided (parked, sent, dead-lettered): recorded, and its event published when it is
   * the outcome now. Throws when the write or the publish fails (callers that must not fail catch and count).
   */
  async recordRelayOutcome(key: MessageKey, entry: OutcomeEntry, extra: Readonly<Record<string, unknown>> = {}): Promise<void> {
    const after = await this.o.store.record(key, entry, entry.atMs);
    const event = after && after !== 'wamid-mismatch' ? outcomeEvent(key, entry, after.history, extra) : null;
    if (event) await this.o.events.publish([event]);
  }
}
