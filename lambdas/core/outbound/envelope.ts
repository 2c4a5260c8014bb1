import * as z from 'zod/mini';
import { ID_PATTERN, ID_RULE } from '../shared/ids.js';
import { parseJson } from '../shared/zod.js';

const ID = ID_PATTERN;
const ID_MESSAGE = ID_RULE;

/**
 * The message upstream systems enqueue on the outbound queue. `payload` goes to the Cloud API as it is; only the
 * fields the relay relies on are checked. Unknown top-level fields are refused so a misspelt `notAfter` cannot be
 * silently ignored.
 */
const cloudApiPayload = z
  .looseObject({
    messaging_product: z.literal('whatsapp'),
    /** A phone number. */
    to: z.optional(z.string().check(z.minLength(1))),
    /** A business-scoped user id (BSUID) or parent BSUID, for a user known by username (Meta, 2026). */
    recipient: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
  })
  .check(z.refine((p) => p.to !== undefined || p.recipient !== undefined, { message: 'needs "to" (a phone number) or "recipient" (a BSUID)', path: ['to'] }));

/**
 * Who a payload goes to, as Meta decides: `to` when present (it wins over `recipient`), else the BSUID in `recipient`.
 * A recipient's messages leave in order and share its pair-rate waits, whichever way it is named.
 */
export const recipientOf = (payload: { readonly to?: string | undefined; readonly recipient?: string | undefined }): string => payload.to ?? payload.recipient ?? '';

/** Longest `messageId` upstream may use; the relay's own fallback ids add `:fallback` (see `message-outcome.ts`). */
export const MAX_MESSAGE_ID = 128;
const FALLBACK_ID = /^[\s\S]{1,128}:fallback$/;

export const outboundEnvelopeSchema = z.strictObject({
  messageId: z.string().check(
    z.minLength(1),
    z.refine((id) => id.length <= MAX_MESSAGE_ID || FALLBACK_ID.test(id), `must be 1-${MAX_MESSAGE_ID} characters`),
  ),
  wabaId: z.string().check(z.regex(ID, ID_MESSAGE)),
  phoneNumberId: z.string().check(z.regex(ID, ID_MESSAGE)),
  payload: cloudApiPayload,
  notAfter: z.optional(z.iso.datetime({ offset: true })),
  metadata: z.optional(z.record(z.string(), z.unknown())),
  /**
   * Sent instead (once, as `<messageId>:fallback`) when the Cloud API refuses the message, or Meta reports it failed,
   * because the 24-hour window closed (131047). Normally a template.
   */
  fallback: z.optional(cloudApiPayload),
  /**
   * Orders one recipient's messages that upstream enqueued at the same moment (one SendMessageBatch gives them one
   * SentTimestamp): lower goes first. Without it such messages go in `messageId` order.
   */
  sequence: z.optional(z.int().check(z.minimum(0), z.maximum(Number.MAX_SAFE_INTEGER))),
  /**
   * Sent by automation (a bot, a campaign): such a message waits while the business owner is answering the same
   * customer from the WhatsApp Business app (HUMAN_REPLY_HOLD_SECONDS after their last reply). Others never wait.
   */
  automated: z.optional(z.boolean()),
});

export type OutboundEnvelope = z.infer<typeof outboundEnvelopeSchema>;

export type EnvelopeParse =
  | { readonly ok: true; readonly envelope: OutboundEnvelope }
  | { readonly ok: false; readonly problem: string };

/**
 * Largest outbound body the relay reads, in UTF-8 bytes: 128 KiB, far above any Cloud API request (a text message
 * is at most 4096 characters; templates and interactive messages are a few KiB). The cap is what lets every park and
 * dead-letter message fit SQS's 1 MiB whatever the body holds (see `dead-letter.ts`). Larger bodies are dead-lettered
 * `invalid-envelope` with an excerpt and their SHA-256.
 */
export const MAX_ENVELOPE_BYTES = 128 * 1024;

export const parseEnvelope = (body: string): EnvelopeParse => {
  const bytes = Buffer.byteLength(body);
  if (bytes > MAX_ENVELOPE_BYTES) return { ok: false, problem: `body is ${bytes} bytes, over the ${MAX_ENVELOPE_BYTES}-byte limit` };
  const r = parseJson(body, outboundEnvelopeSchema, 5);
  return r.ok ? { ok: true, envelope: r.value } : r;
};
