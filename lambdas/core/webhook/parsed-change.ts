import type { DisconnectionInfo, StatusClass } from '../status/client-status.js';
import type { EventTimeProblem } from '../status/event-time.js';
import type { MessageStatusUpdate } from '../outcomes/message-outcome.js';

/** What reading a webhook body yields: one parsed change per change of every entry. */

/** Unknown `value` properties named in the timeline (the count is kept when there are more). */
export const MAX_UNKNOWN_PROPERTIES_NAMED = 20;

export interface AccountUpdate {
  readonly kind: 'account_update';
  readonly wabaId: string;
  readonly entryId: string;
  readonly eventTimeMs: number;
  readonly event: string;
  /** Deterministic id of this event: the same change delivered twice has the same id. */
  readonly eventId: string;
  readonly statusClass: StatusClass | null;
  readonly disconnection?: DisconnectionInfo;
  readonly banState?: string;
  /** `ban_info.waba_ban_date` (free text). */
  readonly banDate?: string;
  /** ACCOUNT_RESTRICTION: each `restriction_info[]` entry; `expiresAtMs` null when `expiration` is not a usable time. */
  readonly restrictions?: readonly { readonly type: string; readonly expiresAtMs: number | null }[];
  readonly phoneNumber?: string;
  /** Properties of `value` this version does not know (the first {@link MAX_UNKNOWN_PROPERTIES_NAMED}); recorded, never rejected. */
  readonly unknownProperties: readonly string[];
  /** Set when there are more unknown properties than are named. */
  readonly unknownPropertyCount?: number;
  /** The change as received: forwarded as unreadable should the store refuse the event for good. */
  readonly raw: unknown;
}

/**
 * An `account_update` whose time may not decide status (not a representable time, or too far after the relay
 * received it): recorded in the client's timeline and forwarded as unreadable, never applied.
 */
export interface RejectedTimeUpdate {
  readonly kind: 'rejected-time';
  readonly wabaId: string;
  readonly entryId: string;
  readonly event: string;
  readonly eventId: string;
  readonly statusClass: StatusClass | null;
  readonly problem: EventTimeProblem;
  readonly detail: string;
  /** The claimed time when representable (the timeline orders the entry by it), else null. */
  readonly claimedTimeMs: number | null;
  /** The time as sent, bounded, for the timeline. */
  readonly rawTime: string;
  readonly raw: unknown;
  readonly dedupeId: string;
}

/** A change of any other field (`messages`, `smb_message_echoes`, ...), forwarded as it came. */
export interface ForwardedChange {
  readonly kind: 'forward';
  readonly wabaId: string;
  readonly field: string;
  readonly entryTimeMs: number | null;
  readonly value: unknown;
  readonly dedupeId: string;
  /** `messages` changes: the business phone number the change is about (`value.metadata.phone_number_id`). */
  readonly phoneNumberId?: string;
  /** When that phone number was seen with this WABA: the entry time, else the newest message/status time, else null. */
  readonly seenAtMs?: number | null;
  /** `messages` changes: the readable items of `value.statuses[]` (message outcomes); absent when there are none. */
  readonly statuses?: readonly MessageStatusUpdate[];
}

/** A change that could not be read (no field, account_update without event or time, ...). Kept, never dropped. */
export interface UnreadableChange {
  readonly kind: 'unreadable';
  readonly wabaId: string | null;
  readonly problem: string;
  readonly raw: unknown;
  readonly dedupeId: string;
}

export type ParsedChange = AccountUpdate | RejectedTimeUpdate | ForwardedChange | UnreadableChange;

export type ParsedWebhook =
  | { readonly kind: 'ignored'; readonly object: string }
  | { readonly kind: 'changes'; readonly changes: readonly ParsedChange[] }
  | { readonly kind: 'invalid'; readonly problem: string };
