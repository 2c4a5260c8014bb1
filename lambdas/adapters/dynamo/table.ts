/**
 * The single table's layout, in one module: key schema, key builders, index attributes and the TTL attribute.
 * The CDK stack, local provisioning and every DynamoDB store take their names from here so they cannot drift.
 *
 * | item | pk | sk |
 * |---|---|---|
 * | client status | `CLIENT#<wabaId>` | `STATUS` |
| client message counters (written by the tally function only) | `CLIENT#<wabaId>` | `COUNTERS` |
 * | timeline entry | `CLIENT#<wabaId>` | `EVENT#<event time ms, padded>#<eventId>` |
 * | parked copy | `CLIENT#<wabaId>` | `PARKED#<first enqueued ms, padded>#<messageId>` (see `parkedOrderKey`) |
 * | message: its lifecycle (ledger state, wamid), outcome history, fallback | `WABA#<wabaId>#MSG#<messageId>` | `SEND` |
 * | wamid -> message (sends whose payload carried the sender's own callback data) | `WAMID#<wamid>` | `MSG` |
 * | the owner's last reply to a customer from the app (human hold) | `CLIENT#<wabaId>` | `HUMAN#<phoneNumberId>#<customer>` |
 * | phone number owner | `PHONE#<phoneNumberId>` | `OWNER` |
 * | pace slots of a phone number | `PHONE#<phoneNumberId>` | `PACE` |
 *
 * WABA ids hold no `#` (the envelope schema refuses it), so a send claim's key names one `(wabaId, messageId)` and no
 * other. Send claims written before the key included the WABA (`MSG#<messageId>`) are no longer read; they expire by
 * TTL (see docs/deploying.md, upgrading).
 *
 * Each item's attribute names, item <-> record mapping and TTL live in one module beside this one: `status-item.ts`
 * (the client status item: status classes, counters, release and health attributes; a hold lists the client in the
 * offboarded index too, key `HOLD#<holdId>`), `timeline-item.ts`, `parked-item.ts`, `message-item.ts` (ledger, outcomes,
 * fallback, and the wamid item) and `phone-items.ts` (owner, pace).
 */

export const TABLE_PARTITION_KEY = 'pk';
export const TABLE_SORT_KEY = 'sk';
/** Epoch seconds after which DynamoDB deletes the item (timeline entries, parked markers, ledger entries). */
export const TABLE_TTL_ATTRIBUTE = 'expiresAt';
/** The table's stream: old and new images, so the tally function sees what a write changed (`message-stream.ts`). */
export const TABLE_STREAM_VIEW = 'NEW_AND_OLD_IMAGES';

/**
 * Sparse index of clients that received an ACCOUNT_OFFBOARDED: the OFFBOARDED status write sets both attributes; the
 * sweeper removes clients that are no longer offboarded. Lets the sweeper find offboarded clients without a scan.
 */
export const OFFBOARDED_INDEX = 'offboarded';
export const OFFBOARDED_INDEX_PK = 'offboardedIdx';
export const OFFBOARDED_INDEX_SK = 'offboardedKey';
export const OFFBOARDED_INDEX_VALUE = 'OFFBOARDED';

export interface TableKey {
  readonly pk: string;
  readonly sk: string;
}

export const TIMELINE_PREFIX = 'EVENT#';
/** Every message item's partition key starts so, and no other item's. */
export const MESSAGE_PREFIX = 'WABA#';
export const PARKED_PREFIX = 'PARKED#';
export const PHONE_PREFIX = 'PHONE#';
export const HUMAN_PREFIX = 'HUMAN#';

const clientPk = (wabaId: string): string => `CLIENT#${wabaId}`;
/** Everything about one message (its send claim, its outcome) shares this partition: one Query reads it all. */
const messagePk = (wabaId: string, messageId: string): string => `${MESSAGE_PREFIX}${wabaId}#MSG#${messageId}`;
/** The WABA id in a message item's partition key, null when `pk` is not one. */
export const wabaIdOfMessagePk = (pk: string): string | null => {
  if (!pk.startsWith(MESSAGE_PREFIX)) return null;
  const end = pk.indexOf('#MSG#', MESSAGE_PREFIX.length);
  return end > MESSAGE_PREFIX.length ? pk.slice(MESSAGE_PREFIX.length, end) : null;
};

export const keys = {
  clientPk,
  messagePk,
  status: (wabaId: string): TableKey => ({ pk: clientPk(wabaId), sk: 'STATUS' }),
  /** The client's message counters, kept by the tally function from the table's stream (`status/tally.ts`). */
  counters: (wabaId: string): TableKey => ({ pk: clientPk(wabaId), sk: 'COUNTERS' }),
  timeline: (wabaId: string, orderKey: string): TableKey => ({ pk: clientPk(wabaId), sk: `${TIMELINE_PREFIX}${orderKey}` }),
  /**
   * A message: its send ledger entry (`core/send-ledger.ts`), its outcome history (one entry per state reached, see
   * `core/message-outcome.ts`) and its fallback, on one item, so a status write can check the wamid the send recorded.
   */
  message: (wabaId: string, messageId: string): TableKey => ({ pk: messagePk(wabaId, messageId), sk: 'SEND' }),
  /** The same item, named for the ledger's use of it. */
  ledger: (wabaId: string, messageId: string): TableKey => ({ pk: messagePk(wabaId, messageId), sk: 'SEND' }),
  /** Which message a wamid belongs to (attributes `wabaId`, `messageId`). */
  wamid: (wamid: string): TableKey => ({ pk: `WAMID#${wamid}`, sk: 'MSG' }),
  /**
   * When the business owner last wrote to `customer` (a phone number or a BSUID) from the WhatsApp Business app on
   * `phoneNumberId` (attribute `repliedAtMs`, only ever moved forward): what holds automated messages to that customer.
   */
  humanReply: (wabaId: string, phoneNumberId: string, customer: string): TableKey => ({ pk: clientPk(wabaId), sk: `${HUMAN_PREFIX}${phoneNumberId}#${customer}` }),
  /** Which WABA owns a business phone number id (attributes `wabaId`, `learnedFrom`, `learnedAt`). */
  phoneOwner: (phoneNumberId: string): TableKey => ({ pk: `${PHONE_PREFIX}${phoneNumberId}`, sk: 'OWNER' }),
  /** A parked copy; `orderKey` from `parkedOrderKey` (first-enqueued time, then messageId): its release order. */
  parkedCopy: (wabaId: string, orderKey: string): TableKey => ({ pk: clientPk(wabaId), sk: `${PARKED_PREFIX}${orderKey}` }),
  /** Release pace slots of a phone number (attribute `nextSlotMs`). */
  pace: (phoneNumberId: string): TableKey => ({ pk: `${PHONE_PREFIX}${phoneNumberId}`, sk: 'PACE' }),
} as const;

/** Epoch seconds `days` after `nowMs`, for the TTL attribute. */
export const ttlAfterDays = (nowMs: number, days: number): number => Math.floor(nowMs / 1000) + days * 86_400;
