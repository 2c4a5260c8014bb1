/**
 * The outcome of one outbound message, `(wabaId, messageId)`: what became of it, only ever forward.
 *
 *   parked < sent < delivered < read < failed < dead-lettered
 *
 * `failed` and `dead-lettered` are final: nothing after them moves the outcome. The outcome is never stored as a
 * state that writes overwrite; the message keeps one entry per state it reached (its history) and the outcome is the
 * highest state present. An entry is replaced only by one that sorts before it ({@link entryKey}: the earlier time,
 * then the wamid, then the entry's content), so whatever order statuses arrive in, duplicated or late, the history and
 * the outcome are those of the sorted sequence. The DynamoDB store (`adapters/dynamo/message-outcome-store.ts`) writes
 * exactly this rule as one conditional write per status.
 */
import { createHash } from 'node:crypto';
import { WINDOW_CLOSED_CODE } from '../outbound/cloud-api-result.js';
import type { OutboundEnvelope } from '../outbound/envelope.js';
import { boundedText } from '../shared/ids.js';
import { type RelayEvent, type RelayEventType, relayEvent } from './relay-events.js';
import type { MessageKey } from '../outbound/send-ledger.js';

export const OUTCOME_STATES = ['parked', 'sent', 'delivered', 'read', 'failed', 'dead-lettered'] as const;
export type OutcomeState = (typeof OUTCOME_STATES)[number];

/** The rank of each state: the outcome is the present state of highest rank. */
export const OUTCOME_RANK: Readonly<Record<OutcomeState, number>> = { parked: 0, sent: 1, delivered: 2, read: 3, failed: 4, 'dead-lettered': 5 };

/** Meta's status values (`value.statuses[].status`) that move an outcome; others (`deleted`, `warning`) do not. */
const META_STATUS_STATES: Readonly<Record<string, OutcomeState>> = { sent: 'sent', delivered: 'delivered', read: 'read', failed: 'failed' };

/** The outcome reason (and dead-letter reason) of a message refused because the window closed. */
export const WINDOW_CLOSED = 'window-closed';

/** The messageId of a message's fallback: sent once, under the same exactly-once rules as any message. */
const FALLBACK_SUFFIX = ':fallback';
export const fallbackIdOf = (messageId: string): string => `${messageId}${FALLBACK_SUFFIX}`;
export const isFallbackId = (messageId: string): boolean => messageId.endsWith(FALLBACK_SUFFIX);

export interface OutcomeError {
  readonly code: number | null;
  readonly title?: string;
  readonly message?: string;
  readonly details?: string;
}

export interface OutcomeEntry {
  readonly state: OutcomeState;
  /** When it happened: Meta's status timestamp, or when the relay did it (epoch ms). */
  readonly atMs: number;
  /** Who said so: Meta's status webhook, or the relay itself (parked, sent, dead-lettered). */
  readonly source: 'webhook' | 'relay';
  readonly wamid?: string;
  readonly errors?: readonly OutcomeError[];
  /** Dead-letter reason; `window-closed` on a failed status with 131047. */
  readonly reason?: string;
  readonly detail?: string;
  /** From Meta's status, as sent (bounded): `pricing` and `conversation`. */
  readonly pricing?: Readonly<Record<string, unknown>>;
  readonly conversation?: Readonly<Record<string, unknown>>;
  /** Who Meta says received it, as the status names them: phone number (`recipientId`), BSUID, parent BSUID. */
  readonly recipient?: { readonly recipientId?: string; readonly userId?: string; readonly parentUserId?: string };
}

export type OutcomeHistory = Partial<Record<OutcomeState, OutcomeEntry>>;

const pad = (ms: number): string => String(Math.max(0, Math.min(ms, 999_999_999_999_999))).padStart(15, '0');

/**
 * The entry's sort key: time, wamid, then a digest of the whole entry, so any two entries compare the same way
 * everywhere (the store compares these strings in its condition).
 */
export const entryKey = (e: OutcomeEntry): string =>
  `${pad(e.atMs)}#${e.wamid ?? ''}#${createHash('sha256').update(JSON.stringify(canonical(e))).digest('hex').slice(0, 16)}`;

const canonical = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v as object)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
};

/** Whether `incoming` becomes the kept entry of its state (an identical entry counts: re-applying it is a no-op). */
const keeps = (current: OutcomeEntry | undefined, incoming: OutcomeEntry): boolean =>
  current === undefined || entryKey(incoming) <= entryKey(current);

/** The history after one entry: the model of the store's conditional write. */
export const applyEntry = (history: OutcomeHistory, entry: OutcomeEntry): OutcomeHistory =>
  keeps(history[entry.state], entry) ? { ...history, [entry.state]: entry } : history;

export interface Outcome {
  readonly state: OutcomeState;
  /** When the message reached that state (ISO-8601). */
  readonly since: string;
  readonly reason?: string;
  /** The wamid Meta gave the message (the latest entry that carries one). */
  readonly wamid: string | null;
  /** Every state reached, oldest first. */
  readonly history: readonly OutcomeEntry[];
}

export const deriveOutcome = (history: OutcomeHistory): Outcome | null => {
  const present = OUTCOME_STATES.flatMap((s) => (history[s] ? [history[s] as OutcomeEntry] : []));
  if (present.length === 0) return null;
  const top = present.reduce((a, b) => (OUTCOME_RANK[b.state] > OUTCOME_RANK[a.state] ? b : a));
  const ordered = [...present].sort((a, b) => a.atMs - b.atMs || OUTCOME_RANK[a.state] - OUTCOME_RANK[b.state]);
  const withWamid = [...ordered].reverse().find((e) => e.wamid !== undefined);
  return {
    state: top.state,
    since: new Date(top.atMs).toISOString(),
    ...(top.reason !== undefined ? { reason: top.reason } : {}),
    wamid: withWamid?.wamid ?? null,
    history: ordered,
  };
};

const EVENT_TYPE: Readonly<Record<OutcomeState, RelayEventType>> = {
  parked: 'message.parked',
  sent: 'message.sent',
  delivered: 'message.delivered',
  read: 'message.read',
  failed: 'message.failed',
  'dead-lettered': 'message.dead_lettered',
};

/**
 * The relay event for an entry the store kept, when that entry is the message's outcome now. A late status (delivered
 * after read) publishes nothing; a duplicate of the outcome's own entry publishes the same event again (same id).
 * The id names the fact by its message, state and source: the relay's own `sent` (its send was accepted) and Meta's
 * `sent` status (with `pricing`) are two facts with two ids, and each keeps its id when it is seen again (a retried
 * batch, a redelivered webhook); its time is not part of it.
 */
export const outcomeEvent = (
  key: MessageKey,
  entry: OutcomeEntry,
  after: OutcomeHistory,
  extra: Readonly<Record<string, unknown>> = {},
): RelayEvent | null => {
  if (deriveOutcome(after)?.state !== entry.state) return null;
  const detail: Record<string, unknown> = { outcome: entry.state, source: entry.source, ...extra };
  if (entry.errors) detail.errors = entry.errors;
  if (entry.reason !== undefined) detail.reason = entry.reason;
  if (entry.detail !== undefined) detail.detail = entry.detail;
  if (entry.pricing) detail.pricing = entry.pricing;
  if (entry.conversation) detail.conversation = entry.conversation;
  if (entry.recipient) detail.recipient = entry.recipient;
  return relayEvent(
    EVENT_TYPE[entry.state],
    { time: entry.atMs, wabaId: key.wabaId, messageId: key.messageId, ...(entry.wamid !== undefined ? { wamid: entry.wamid } : {}) },
    [key.wabaId, key.messageId, entry.state, entry.source],
    detail,
  );
};

// ---------------------------------------------------------------------------------------------------------------
// Meta's status webhooks (`messages` field, `value.statuses[]`), as `webhook-payload.ts` reads them

/** One status of `value.statuses[]`, read leniently and bounded. */
export interface MessageStatusUpdate {
  readonly wamid: string;
  /** Meta's status value as sent (bounded): `sent`, `delivered`, `read`, `failed`, or another. */
  readonly status: string;
  /** Meta's `timestamp`; null when it is not a usable time (the relay's receipt time is used instead). */
  readonly timestampMs: number | null;
  readonly recipientId?: string;
  /** `recipient_user_id`: the recipient's business-scoped user id (a user known by username). */
  readonly userId?: string;
  /** `recipient_parent_user_id`: the parent BSUID, across linked business portfolios. */
  readonly parentUserId?: string;
  readonly errors: readonly OutcomeError[];
  readonly callbackData?: string;
  readonly pricing?: Readonly<Record<string, unknown>>;
  readonly conversation?: Readonly<Record<string, unknown>>;
}

const isWindowClosed = (errors: readonly OutcomeError[] | undefined): boolean => (errors ?? []).some((e) => e.code === WINDOW_CLOSED_CODE);

/** The outcome entry a status gives, or null for a status value that does not move outcomes. */
export const entryFromStatus = (s: MessageStatusUpdate, receivedAtMs: number): OutcomeEntry | null => {
  const state = META_STATUS_STATES[s.status];
  if (!state) return null;
  return {
    state,
    atMs: s.timestampMs ?? receivedAtMs,
    source: 'webhook',
    wamid: s.wamid,
    ...(s.errors.length > 0 ? { errors: s.errors } : {}),
    ...(state === 'failed' && isWindowClosed(s.errors) ? { reason: WINDOW_CLOSED } : {}),
    ...(s.pricing ? { pricing: s.pricing } : {}),
    ...(s.conversation ? { conversation: s.conversation } : {}),
    ...(s.recipientId !== undefined || s.userId !== undefined || s.parentUserId !== undefined
      ? {
          recipient: {
            ...(s.recipientId !== undefined ? { recipientId: s.recipientId } : {}),
            ...(s.userId !== undefined ? { userId: s.userId } : {}),
            ...(s.parentUserId !== undefined ? { parentUserId: s.parentUserId } : {}),
          },
        }
      : {}),
  };
};

// ---------------------------------------------------------------------------------------------------------------
// Correlation: the relay's `biz_opaque_callback_data`

/** Meta's limit on `biz_opaque_callback_data`. */
const MAX_CALLBACK_DATA = 512;
const CALLBACK_PREFIX = 'cxr1.';

/**
 * The callback data the relay sets on a send whose payload has none: `cxr1.<wabaId>.<messageId, base64url>`. A status
 * carrying it names its message without a read. A WABA id has no `.` (ids are letters, digits, `-`, `_`).
 */
export const encodeCallbackData = (key: MessageKey): string =>
  `${CALLBACK_PREFIX}${key.wabaId}.${Buffer.from(key.messageId, 'utf8').toString('base64url')}`;

/**
 * The message a status's callback data names, when the data is the relay's and names a message of `wabaId` (the
 * webhook's `entry.id`): the sender's own data, or data naming another WABA, is not trusted and reads as null.
 */
export const decodeCallbackData = (data: string | undefined, wabaId: string): MessageKey | null => {
  if (data === undefined || !data.startsWith(CALLBACK_PREFIX)) return null;
  const rest = data.slice(CALLBACK_PREFIX.length);
  const dot = rest.indexOf('.');
  if (dot <= 0 || rest.slice(0, dot) !== wabaId) return null;
  const encoded = rest.slice(dot + 1);
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(encoded)) return null;
  const messageId = Buffer.from(encoded, 'base64url').toString('utf8');
  if (messageId.length === 0 || Buffer.from(messageId, 'utf8').toString('base64url') !== encoded) return null;
  return { wabaId, messageId };
};

/**
 * The payload the relay sends: the sender's, with the relay's callback data when the sender set none (a sender's own
 * `biz_opaque_callback_data` is never overwritten). `ours` says whether a status will carry the relay's data.
 */
export const withCallbackData = (
  envelope: Pick<OutboundEnvelope, 'wabaId' | 'messageId' | 'payload'>,
): { readonly payload: Readonly<Record<string, unknown>>; readonly ours: boolean } => {
  if (envelope.payload.biz_opaque_callback_data !== undefined) return { payload: envelope.payload, ours: false };
  const data = encodeCallbackData(envelope);
  if (data.length > MAX_CALLBACK_DATA) return { payload: envelope.payload, ours: false };
  return { payload: { ...envelope.payload, biz_opaque_callback_data: data }, ours: true };
};

/** Error objects of a status or a Cloud API answer, bounded for storage. */
export const boundedErrors = (errors: readonly OutcomeError[]): OutcomeError[] =>
  errors.slice(0, 5).map((e) => ({
    code: e.code,
    ...(e.title !== undefined ? { title: boundedText(e.title, 200) } : {}),
    ...(e.message !== undefined ? { message: boundedText(e.message, 500) } : {}),
    ...(e.details !== undefined ? { details: boundedText(e.details, 500) } : {}),
  }));
