import { createHash } from 'node:crypto';
import { truncateValue } from '../shared/bounded-json.js';
import { toSqsJson } from '../shared/sqs-body.js';
import type { InboundEvent, LargeValueStore, ValueRef } from './ports.js';

/** Largest message body forwarded inline; SQS refuses messages over 1 MiB (body and attributes). */
const MAX_INBOUND_BODY_BYTES = 900 * 1024;

/**
 * Meta's own limit for one webhook POST, 3 MB. A change whose JSON is larger cannot be one Meta sent whole (the
 * webhook accepts bodies up to 3 MiB, a margin over it), so it is the only change still forwarded as unreadable.
 */
export const META_MAX_CHANGE_BYTES = 3_000_000;

/** Every stored value's key starts with this (the webhook may put objects under it only; consumers read under it). */
export const LARGE_VALUE_PREFIX = 'inbound/';

/**
 * Where a change's value is stored: `inbound/<wabaId>/<dedupeId>.json`. Both parts come from the change itself (the
 * dedupe id is a hash of it), never from the clock, so a redelivery overwrites the same object instead of adding one.
 */
export const largeValueKey = (e: Pick<InboundEvent, 'wabaId' | 'dedupeId'>): string => `${LARGE_VALUE_PREFIX}${e.wabaId ?? 'no-waba'}/${e.dedupeId}.json`;

/** One inbound-events SQS message: its body and message attributes. */
export interface InboundMessage {
  readonly body: string;
  readonly attributes: Readonly<Record<string, string>>;
}

const attributesOf = (e: InboundEvent, field: string, extra: Record<string, string> = {}): Record<string, string> => ({
  field,
  ...(e.wabaId ? { wabaId: e.wabaId } : {}),
  dedupeId: e.dedupeId,
  ...extra,
});

/** The event as unreadable, with the first 16 KiB of its value's JSON text, its length and its SHA-256. */
const truncated = (e: InboundEvent, reason: string, detail: string): InboundMessage => {
  const { value, raw, ...rest } = e;
  const t = truncateValue(value ?? raw);
  const problem = e.field === 'unreadable' ? (e.problem ?? reason) : `${reason}: a "${e.field}" change of ${t.originalBytes} bytes, ${detail}`;
  return { body: toSqsJson({ ...rest, field: 'unreadable', problem, truncated: t }), attributes: attributesOf(e, 'unreadable') };
};

/**
 * The SQS message for one inbound event, JSON with every non-ASCII character escaped (every SQS accepts it).
 * - It fits in one message: the event as it is.
 * - Its `value` does not fit but is at most Meta's 3 MB: the value's JSON goes whole to `store` first, and the message
 *   carries `valueRef` (bucket, key, bytes, SHA-256 of the stored bytes) instead of `value`, attribute `valueRef=true`.
 * - Larger than that, or nested too deep for `JSON.stringify`, or without a store: forwarded as `unreadable` with its
 *   first 16 KiB (`truncated`), never failing the webhook forever.
 * A store failure throws: the POST fails (5xx) before anything of it is queued, and Meta delivers it again.
 */
const inboundMessage = async (e: InboundEvent, store: LargeValueStore | undefined): Promise<InboundMessage> => {
  let body: string;
  try {
    body = toSqsJson(e);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return truncated(e, 'too-deep', 'forwarded truncated');
  }
  if (body.length <= MAX_INBOUND_BODY_BYTES) return { body, attributes: attributesOf(e, e.field) };
  if (e.value === undefined || !store) return truncated(e, 'too-large', 'forwarded truncated');
  const json = Buffer.from(JSON.stringify(e.value), 'utf8');
  if (json.length > META_MAX_CHANGE_BYTES) return truncated(e, 'too-large', `over Meta's ${META_MAX_CHANGE_BYTES}-byte limit, forwarded truncated`);
  const sha256 = createHash('sha256').update(json).digest('hex');
  const key = largeValueKey(e);
  const { bucket } = await store.put(key, json, sha256);
  const valueRef: ValueRef = { bucket, key, bytes: json.length, sha256 };
  const { value: _stored, ...rest } = e;
  return { body: toSqsJson({ ...rest, valueRef }), attributes: attributesOf(e, e.field, { valueRef: 'true' }) };
};

/** Every event's message; the large values are all stored before any message is returned (nothing half-forwarded). */
export const inboundMessages = (events: readonly InboundEvent[], store: LargeValueStore | undefined): Promise<InboundMessage[]> =>
  Promise.all(events.map((e) => inboundMessage(e, store)));
