import * as z from 'zod/mini';
import { lazily } from '../shared/zod.js';
import { boundedText } from '../shared/ids.js';
import { readEventTime } from '../status/event-time.js';
import { boundedErrors, type MessageStatusUpdate, type OutcomeError } from '../outcomes/message-outcome.js';
import { lenient, text } from './payload-fields.js';

/** Reading the message statuses of a `messages` change (`value.statuses[]`) into message outcome updates. */

/** Built on the first `statuses` read, not at import: a POST of `account_update` changes never needs them. */
const schemas = lazily(() => {
  const statusError = z.looseObject({
    code: lenient(z.pipe(z.union([z.number(), z.string()]), z.transform((c: number | string) => Number(c)))),
    title: lenient(z.string()),
    message: lenient(z.string()),
    error_data: lenient(z.looseObject({ details: lenient(z.string()) })),
  });

  /** One `value.statuses[]` item: only the wamid and the status value are required; the rest is read when readable. */
  const statusItem = z.looseObject({
    id: z.string().check(z.minLength(1), z.maxLength(512)),
    status: z.string().check(z.minLength(1)),
    timestamp: z.optional(z.unknown()),
    recipient_id: lenient(text),
    /** A user known by username may be named only by their business-scoped user id (and its parent), without `recipient_id`. */
    recipient_user_id: lenient(text),
    recipient_parent_user_id: lenient(text),
    errors: lenient(z.array(z.unknown())),
    biz_opaque_callback_data: lenient(z.string().check(z.maxLength(512))),
    pricing: lenient(
      z.looseObject({ billable: lenient(z.boolean()), pricing_model: lenient(text), category: lenient(text), type: lenient(text) }),
    ),
    conversation: lenient(
      z.looseObject({ id: lenient(text), origin: lenient(z.looseObject({ type: lenient(text) })), expiration_timestamp: lenient(text) }),
    ),
  });
  return { statusError, statusItem };
});

/** Most statuses read from one change (Meta batches up to 1000 updates per POST). */
const MAX_STATUSES_PER_CHANGE = 1000;

/** The clock event times are checked against. */
export interface EventTimeContext {
  /** When the relay received the POST (ms). */
  readonly receivedAtMs: number;
  /** How far after receipt an event time may lie (ms). */
  readonly maxFutureSkewMs: number;
}

export const readStatuses = (list: readonly unknown[] | undefined, ctx: EventTimeContext): MessageStatusUpdate[] => {
  const out: MessageStatusUpdate[] = [];
  for (const raw of (list ?? []).slice(0, MAX_STATUSES_PER_CHANGE)) {
    const { statusItem, statusError } = schemas();
    const r = statusItem.safeParse(raw);
    if (!r.success) continue; // forwarded anyway; not a status the relay can use
    const s = r.data;
    const t = readEventTime(s.timestamp, ctx.receivedAtMs, ctx.maxFutureSkewMs);
    const errors: OutcomeError[] = [];
    for (const e of s.errors ?? []) {
      const p = statusError.safeParse(e);
      if (!p.success) continue;
      const code = p.data.code;
      errors.push({
        code: code !== undefined && Number.isInteger(code) ? code : null,
        ...(p.data.title !== undefined ? { title: p.data.title } : {}),
        ...(p.data.message !== undefined ? { message: p.data.message } : {}),
        ...(p.data.error_data?.details !== undefined ? { details: p.data.error_data.details } : {}),
      });
    }
    const pricing: Record<string, unknown> = {};
    if (s.pricing) for (const k of ['billable', 'pricing_model', 'category', 'type'] as const) if (s.pricing[k] !== undefined) pricing[k] = s.pricing[k];
    const conversation: Record<string, unknown> = {};
    if (s.conversation?.id !== undefined) conversation.id = s.conversation.id;
    if (s.conversation?.origin?.type !== undefined) conversation.originType = s.conversation.origin.type;
    if (s.conversation?.expiration_timestamp !== undefined) conversation.expirationTimestamp = s.conversation.expiration_timestamp;
    out.push({
      wamid: s.id,
      status: boundedText(s.status, 32),
      timestampMs: t.ok ? t.ms : null,
      ...(s.recipient_id !== undefined ? { recipientId: s.recipient_id } : {}),
      ...(s.recipient_user_id !== undefined ? { userId: s.recipient_user_id } : {}),
      ...(s.recipient_parent_user_id !== undefined ? { parentUserId: s.recipient_parent_user_id } : {}),
      errors: boundedErrors(errors),
      ...(s.biz_opaque_callback_data !== undefined ? { callbackData: s.biz_opaque_callback_data } : {}),
      ...(Object.keys(pricing).length > 0 ? { pricing } : {}),
      ...(Object.keys(conversation).length > 0 ? { conversation } : {}),
    });
  }
  return out;
};
