import { createHash } from 'node:crypto';
import type { CloudApiError } from './cloud-api-result.js';
import { MAX_ENVELOPE_BYTES, type OutboundEnvelope } from './envelope.js';
import type { DeadLetterReason, ParkState } from './outbound-decision.js';
import { SQS_MAX_MESSAGE_BYTES, toSqsJson } from '../shared/sqs-body.js';

/** The JSON body written to the dead-letter queue. */
export interface DeadLetterBody {
  readonly reason: DeadLetterReason;
  readonly detail: string;
  readonly deadLetteredAt: string;
  /**
   * The envelope as enqueued; for `invalid-envelope`, the raw body text. When `truncated` is present, only the
   * first characters of the raw body.
   */
  readonly envelope: OutboundEnvelope | string;
  /** Present when the body was too large to keep whole (over {@link MAX_ENVELOPE_BYTES}). */
  readonly truncated?: { readonly originalBytes: number; readonly sha256: string };
  readonly cloudApiError?: CloudApiError & { readonly httpStatus?: number };
  readonly parkCount: number;
  readonly sendAttempts: number;
  readonly firstParkedAt: string | null;
}

/**
 * Room left for the message attributes and a safety margin: a dead-letter body is at most this many bytes. Every
 * character of a body at most {@link MAX_ENVELOPE_BYTES} long becomes at most 6 ASCII bytes in `toSqsJson`
 * (`\uXXXX`), so a whole envelope under the cap (768 KiB escaped at worst) always fits; larger bodies are cut.
 */
export const DEAD_LETTER_MAX_BYTES = SQS_MAX_MESSAGE_BYTES - 32 * 1024;
/** Characters of the raw body kept when it is cut (at most 6 bytes each once escaped). */
export const DEAD_LETTER_EXCERPT_CHARS = 16 * 1024;
/** Longest `detail` and Cloud API error text kept. */
const MAX_TEXT = 1000;

const cut = (s: string, max: number): string => {
  if (s.length <= max) return s;
  let end = max;
  // Never split a surrogate pair: the excerpt stays text the reader can decode.
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return s.slice(0, end);
};

const cutText = (s: string): string => (s.length <= MAX_TEXT ? s : `${cut(s, MAX_TEXT)}...`);

const boundedApiError = (e: DeadLetterBody['cloudApiError']): DeadLetterBody['cloudApiError'] =>
  e === undefined
    ? undefined
    : (Object.fromEntries(Object.entries(e).map(([k, v]) => [k, typeof v === 'string' ? cutText(v) : v])) as DeadLetterBody['cloudApiError']);

/** Bytes SQS counts for message attributes: name, type and value of each. */
export const attributeBytes = (attributes: Readonly<Record<string, string>>): number =>
  Object.entries(attributes).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v) + 'String'.length, 0);

export interface DeadLetterInput {
  readonly reason: DeadLetterReason;
  readonly detail: string;
  readonly nowMs: number;
  /** The parsed envelope, or null when the body could not be read as one. */
  readonly envelope: OutboundEnvelope | null;
  /** The record body exactly as received. */
  readonly rawBody: string;
  readonly state: ParkState;
  readonly cloudApiError?: DeadLetterBody['cloudApiError'];
}

export interface DeadLetterMessage {
  readonly body: string;
  readonly attributes: Readonly<Record<string, string>>;
}

/**
 * The dead-letter message for one record: a body SQS always accepts (ASCII JSON, see `toSqsJson`) that, with its
 * attributes, fits one SQS message by construction. A body over {@link MAX_ENVELOPE_BYTES} (or one that would not fit
 * for any other reason) keeps its first {@link DEAD_LETTER_EXCERPT_CHARS} characters, its UTF-8 length and SHA-256.
 */
export const deadLetterMessage = (input: DeadLetterInput): DeadLetterMessage => {
  const attributes: Record<string, string> = { reason: input.reason, ...(input.envelope ? { wabaId: input.envelope.wabaId } : {}) };
  const cloudApiError = boundedApiError(input.cloudApiError);
  const base = {
    reason: input.reason,
    detail: cutText(input.detail),
    deadLetteredAt: new Date(input.nowMs).toISOString(),
  };
  const tail = {
    ...(cloudApiError ? { cloudApiError } : {}),
    parkCount: input.state.parkCount,
    sendAttempts: input.state.sendAttempts,
    firstParkedAt: input.state.firstParkedAt,
  };
  const rawBytes = Buffer.byteLength(input.rawBody);
  const limit = DEAD_LETTER_MAX_BYTES - attributeBytes(attributes);
  if (rawBytes <= MAX_ENVELOPE_BYTES) {
    const whole: DeadLetterBody = { ...base, envelope: input.envelope ?? input.rawBody, ...tail };
    const body = toSqsJson(whole);
    if (body.length <= limit) return { body, attributes };
  }
  const truncated: DeadLetterBody = {
    ...base,
    envelope: cut(input.rawBody, DEAD_LETTER_EXCERPT_CHARS),
    truncated: { originalBytes: rawBytes, sha256: createHash('sha256').update(input.rawBody, 'utf8').digest('hex') },
    ...tail,
  };
  return { body: toSqsJson(truncated), attributes };
};
