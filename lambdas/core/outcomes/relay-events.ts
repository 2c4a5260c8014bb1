/**
 * Relay events: one JSON event per fact the relay learns or does, published for partners (SNS topic `relay-events`).
 * Delivery is at least once, so every event carries an `id` derived from the fact itself: the same fact seen twice
 * (a retried batch, a duplicated status webhook) gets the same id, and subscribers dedupe on it.
 *
 * This module is the contract: the event types, the envelope every event shares, and the id rule. Publishing lives
 * behind the `RelayEventPublisher` port.
 */
import { hash } from 'node:crypto';
import { isoTime } from '../shared/iso-time.js';
import type { ClientStatus } from '../status/client-status.js';

export const RELAY_EVENT_TYPES = [
  'client.status_changed',
  'message.parked',
  'message.released',
  'message.sent',
  'message.delivered',
  'message.read',
  'message.failed',
  'message.dead_lettered',
  /** The business owner wrote to a customer from the WhatsApp Business app: automated messages to them wait. */
  'conversation.human_replied',
] as const;
export type RelayEventType = (typeof RELAY_EVENT_TYPES)[number];

/** The SNS message attribute that carries `type`, so subscribers can filter with a subscription filter policy. */
export const RELAY_EVENT_TYPE_ATTRIBUTE = 'type';

export interface RelayEvent {
  /** Stable for the fact (see `relayEventId`): dedupe on it. */
  readonly id: string;
  readonly type: RelayEventType;
  /** ISO-8601 time of the fact (when Meta stamped it, or when the relay did it). */
  readonly time: string;
  readonly wabaId: string;
  readonly messageId?: string;
  readonly wamid?: string;
  /** Per-type details (the status change, the errors, the dead-letter reason, ...). */
  readonly detail: Readonly<Record<string, unknown>>;
}

/**
 * The id of an event: a hash of its type and the parts that identify the fact (for a message's outcome the WABA, the
 * message id, the state and who said so, the relay or Meta's webhook). Not random: the same fact always gets the same
 * id, and two facts (the relay's `sent` and Meta's `sent` status) never share one.
 */
export const relayEventId = (type: RelayEventType, ...parts: readonly string[]): string =>
  hash('sha256', [type, ...parts].join('\u0000'), 'base64url').slice(0, 32);

export const relayEvent = (
  type: RelayEventType,
  fact: { readonly time: string | number; readonly wabaId: string; readonly messageId?: string; readonly wamid?: string },
  idParts: readonly string[],
  detail: Readonly<Record<string, unknown>> = {},
): RelayEvent => ({
  id: relayEventId(type, ...idParts),
  type,
  time: typeof fact.time === 'number' ? isoTime(fact.time) : fact.time,
  wabaId: fact.wabaId,
  ...(fact.messageId === undefined ? {} : { messageId: fact.messageId }),
  ...(fact.wamid === undefined ? {} : { wamid: fact.wamid }),
  detail,
});

// ---------------------------------------------------------------------------------------------------------------
// Per-type details

/** `client.status_changed`: the client's derived status moved, and the account_update event that moved it. */
export type ClientStatusChangedDetail = {
  readonly from: ClientStatus;
  readonly to: ClientStatus;
  /** Meta's event name (`ACCOUNT_OFFBOARDED`, `ACCOUNT_RECONNECTED`, ...). */
  readonly event: string;
  /** The relay's id of that event (as on the client's timeline). */
  readonly eventId: string;
};

/**
 * The `client.status_changed` event for one account_update event. Its id depends only on the WABA and the event id,
 * and `time` is Meta's time for the event: a redelivered webhook yields the same event, field for field.
 */
export const clientStatusChanged = (
  wabaId: string,
  change: { readonly eventId: string; readonly event: string; readonly eventTimeMs: number; readonly from: ClientStatus; readonly to: ClientStatus },
): RelayEvent => {
  const detail: ClientStatusChangedDetail = { from: change.from, to: change.to, event: change.event, eventId: change.eventId };
  return relayEvent('client.status_changed', { time: change.eventTimeMs, wabaId }, [wabaId, change.eventId], detail);
};

/**
 * `conversation.human_replied`: the business owner wrote to a customer from the WhatsApp Business app, later than any
 * reply seen before for that customer. One id per reply (a redelivered echo keeps it).
 */
export const humanReplied = (r: { readonly wabaId: string; readonly phoneNumberId: string; readonly customer: string; readonly atMs: number }): RelayEvent =>
  relayEvent('conversation.human_replied', { time: r.atMs, wabaId: r.wabaId }, [r.wabaId, r.phoneNumberId, r.customer, String(r.atMs)], {
    phoneNumberId: r.phoneNumberId,
    customer: r.customer,
    repliedAt: new Date(r.atMs).toISOString(),
  });
