import * as z from 'zod/mini';
import type { ParkedCopy, StoredParkedCopy } from '../../core/release/ports.js';
import { describeIssues, lazily } from '../../core/shared/zod.js';
import { DEFAULTS } from '../../core/shared/defaults.js';
import { PARKED_PREFIX, TABLE_TTL_ATTRIBUTE } from './table.js';

/**
 * A parked copy item (`keys.parkedCopy`): the copy's fields are its attributes; it expires (TTL) a while after its first
 * park, longer than a message may stay parked.
 */

/** Parked-message markers written before parked copies existed (`PARKED#<ISO time>#...`): their message is on the delay queue. */
export const LEGACY_PARKED_MARKER = /^PARKED#\d{4}-\d\d-\d\dT/;

/** Attributes a release updates on a parked copy. */
export const PARKED_ATTRS = { sendAttempts: 'sendAttempts', rateLimitHits: 'rateLimitHits', firstParkedAt: 'firstParkedAt' } as const;

/** Seconds after the first park that DynamoDB may drop a copy left behind (longer than MAX_PARK_SECONDS). */
export const DEFAULT_PARKED_TTL_SECONDS = DEFAULTS.maxParkSeconds + 86_400;

/** The item of a parked copy, without its keys (its order key is in the sort key). */
export const parkedItem = (copy: ParkedCopy, ttlSeconds: number): Record<string, unknown> => {
  const { orderKey: _o, ...attrs } = copy;
  return { ...attrs, [TABLE_TTL_ATTRIBUTE]: Math.floor(Date.parse(copy.firstParkedAt) / 1000) + ttlSeconds };
};

/** Built when a parked copy is first read back (the releaser, the status route), not by every function that imports this module. */
const copyItemSchema = lazily(() =>
  z.object({
  wabaId: z.string(),
  messageId: z.string(),
  firstEnqueuedMs: z.number(),
  firstParkedAt: z.string(),
  phoneNumberId: z.string(),
  recipient: z.string(),
  parkCount: z.number(),
  sendAttempts: z.number(),
  rateLimitHits: z.optional(z.number()),
  body: z.string(),
  }),
);

/** A parked copy as read back; an item that is not a copy is returned as unreadable, with why. */
export const parkedFromItem = (item: Record<string, unknown>, wabaId: string): StoredParkedCopy => {
  const orderKey = String(item.sk).slice(PARKED_PREFIX.length);
  const r = copyItemSchema().safeParse(item);
  if (r.success) return { ok: true, copy: { ...r.data, rateLimitHits: r.data.rateLimitHits ?? 0, orderKey } };
  const { pk: _pk, sk: _sk, ...rest } = item;
  const raw = typeof item.body === 'string' ? item.body : JSON.stringify(rest);
  return { ok: false, wabaId, orderKey, raw, problem: describeIssues(r.error, 3) };
};

