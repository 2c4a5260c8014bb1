/**
 * The relay event as a subscriber reads it: a zod schema for code (and tests) that consume the topic, and for the
 * CLI's `events tail`. Kept apart from `relay-events.ts` so the functions that only publish do not bundle it.
 */
import * as z from 'zod/mini';
import { CLIENT_STATUSES } from '../status/client-status.js';
import { DEAD_LETTER_REASONS } from '../outbound/outbound-decision.js';
import { WINDOW_CLOSED } from './message-outcome.js';
import { RELAY_EVENT_TYPES, type RelayEvent, type RelayEventType } from './relay-events.js';
import { describeIssues } from '../shared/zod.js';

const isoTime = z.string().check(z.refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO-8601 time'));
const nonEmpty = z.string().check(z.minLength(1));

const clientStatusChangedDetailSchema = z.object({
  from: z.enum(CLIENT_STATUSES),
  to: z.enum(CLIENT_STATUSES),
  event: nonEmpty,
  eventId: nonEmpty,
});

const common = {
  id: z.string().check(z.regex(/^[A-Za-z0-9_-]{32}$/, 'must be the 32-character event id')),
  time: isoTime,
  wabaId: nonEmpty,
  messageId: z.optional(nonEmpty),
  wamid: z.optional(nonEmpty),
};

/** An error of a refused send or of Meta's status, bounded as the relay stores it. */
const outcomeError = z.object({
  code: z.nullable(z.number()),
  title: z.optional(z.string()),
  message: z.optional(z.string()),
  details: z.optional(z.string()),
});
const metaObject = z.record(z.string(), z.unknown());
/** What a status webhook from Meta adds, as Meta sent it (bounded). */
const fromMeta = {
  errors: z.optional(z.array(outcomeError)),
  pricing: z.optional(metaObject),
  conversation: z.optional(metaObject),
  /** Who Meta says received it: phone number, business-scoped user id (BSUID), parent BSUID, as the status named them. */
  recipient: z.optional(z.object({ recipientId: z.optional(nonEmpty), userId: z.optional(nonEmpty), parentUserId: z.optional(nonEmpty) })),
};

/**
 * Each type's `detail`, field by field: the contract docs/relay-events.md documents (its table is checked against
 * these shapes). `outcome` is the message's outcome the event reports; `source` who said so: `relay` (it did it) or
 * `webhook` (Meta's status).
 */
export const RELAY_EVENT_DETAIL_SHAPES = {
  'client.status_changed': clientStatusChangedDetailSchema.shape,
  'message.parked': { outcome: z.literal('parked'), source: z.literal('relay') },
  'message.released': { releaseId: nonEmpty, firstParkedAt: isoTime, fallbackMessageId: z.optional(nonEmpty) },
  'message.sent': { outcome: z.literal('sent'), source: z.enum(['relay', 'webhook']), ...fromMeta },
  'message.delivered': { outcome: z.literal('delivered'), source: z.literal('webhook'), ...fromMeta },
  'message.read': { outcome: z.literal('read'), source: z.literal('webhook'), ...fromMeta },
  'message.failed': {
    outcome: z.literal('failed'),
    source: z.enum(['relay', 'webhook']),
    ...fromMeta,
    reason: z.optional(z.literal(WINDOW_CLOSED)),
    fallbackMessageId: z.optional(nonEmpty),
  },
  'message.dead_lettered': { outcome: z.literal('dead-lettered'), source: z.literal('relay'), reason: z.enum(DEAD_LETTER_REASONS), detail: z.optional(z.string()) },
  'conversation.human_replied': { phoneNumberId: nonEmpty, customer: nonEmpty, repliedAt: isoTime },
} as const satisfies Record<RelayEventType, Record<string, z.ZodMiniType>>;

/**
 * The detail of an event too large for SNS (256 KiB), as it is published instead: the first 16 KiB of its JSON, that
 * JSON's length and its SHA-256 (`adapters/sns-events.ts`).
 */
const truncatedDetailSchema = z.strictObject({
  truncated: z.object({ originalBytes: z.number(), sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/)), text: z.string() }),
});

const eventOf = <T extends RelayEventType>(type: T) =>
  // Fields added later are kept, not refused: a subscriber's parser reads the fields it knows.
  z.object({ ...common, type: z.literal(type), detail: z.looseObject(RELAY_EVENT_DETAIL_SHAPES[type]) });

/** An event of any type whose detail was truncated. */
const truncatedEventSchema = z.object({ ...common, type: z.enum(RELAY_EVENT_TYPES), detail: truncatedDetailSchema });

/** Every relay event, its `detail` checked field by field for its type. */
const relayEventSchema = z.discriminatedUnion('type', [
  eventOf('client.status_changed'),
  eventOf('message.parked'),
  eventOf('message.released'),
  eventOf('message.sent'),
  eventOf('message.delivered'),
  eventOf('message.read'),
  eventOf('message.failed'),
  eventOf('message.dead_lettered'),
  eventOf('conversation.human_replied'),
]);

/** Parses one delivered message body (raw message delivery: the event's JSON). Throws with the first problems. */
export const parseRelayEvent = (body: string): RelayEvent => {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new TypeError('relay event: body is not JSON');
  }
  const detail = (json as { detail?: unknown } | null)?.detail;
  const truncated = typeof detail === 'object' && detail !== null && Object.keys(detail).length === 1 && 'truncated' in detail;
  const r = (truncated ? truncatedEventSchema : relayEventSchema).safeParse(json);
  if (!r.success) throw new TypeError(`relay event: ${describeIssues(r.error, 3)}`);
  return r.data;
};
