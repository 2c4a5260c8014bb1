import type { ClientHealth } from '../health/client-health.js';
import type { CloudApiResult } from './cloud-api-result.js';
import type { LedgerView, MessageKey } from './send-ledger.js';
import type { LatestByClass } from '../status/client-status.js';

/** The ports of the outbound side: the batch read, phone owners, queues, the Cloud API and its tokens. */
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
  /** When the owner last wrote to each customer asked for, from the app (epoch ms), by {@link customerIdentity}. */
  readonly humanReplies: ReadonlyMap<string, number>;
  /** The phone number of each client's latest outbound message, as recorded (a client with none is absent). */
  readonly phoneNumbers: ReadonlyMap<string, string>;
}

/** A customer of one phone number of one client: whom automated messages may have to leave to a human. */
export interface CustomerKey {
  readonly wabaId: string;
  readonly phoneNumberId: string;
  /** As the envelope names the recipient: `payload.to`, else `payload.recipient` (a BSUID). */
  readonly customer: string;
}

export const customerIdentity = (k: CustomerKey): string => `${k.wabaId}\u0000${k.phoneNumberId}\u0000${k.customer}`;

/** A message's identity as a map key: the same `messageId` under two WABAs is two messages. */
export const messageIdentity = (k: MessageKey): string => `${k.wabaId}\u0000${k.messageId}`;

/**
 * The one read before acting on a batch: client statuses, phone number owners and the messages' ledger entries
 * together (one request when it can).
 */
export interface BatchContextReader {
  readBatch(wabaIds: readonly string[], phoneNumberIds: readonly string[], messages?: readonly MessageKey[], customers?: readonly CustomerKey[]): Promise<BatchContext>;
}

/** The phone number of a client's latest outbound message: what a stale-offboarding probe reads. */
export interface ClientPhoneNumber {
  readonly wabaId: string;
  readonly phoneNumberId: string;
}

/**
 * Remembers each client's latest phone number; the consumer writes only the ones that changed (the counters are not
 * the send path's to write: the tally function counts them from the table's stream).
 */
export interface ClientPhoneNumbers {
  record(latest: readonly ClientPhoneNumber[], nowMs: number): Promise<void>;
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

/** One reply the business owner wrote from the WhatsApp Business app (an `smb_message_echoes` echo). */
export interface HumanReply extends CustomerKey {
  /** When Meta says the owner wrote (epoch ms). */
  readonly atMs: number;
}

/**
 * Remembers, per phone number and customer, when the owner last wrote from the app: one conditional write per echo
 * that only moves the time forward (echoes arrive out of order and twice). Returns the replies that moved it.
 */
export interface HumanReplyRecorder {
  record(replies: readonly HumanReply[], retentionSeconds: number): Promise<readonly HumanReply[]>;
  /** How many customers of the client are in a human hold at `nowMs` (their last reply less than `holdSeconds` ago). */
  countHeld(wabaId: string, nowMs: number, holdSeconds: number): Promise<number>;
}
