/**
 * The relay event as a subscriber reads it: a zod schema for code (and tests) that consume the topic, and for the
 * CLI's `events tail`. Kept apart from `relay-events.ts` so the functions that only publish do not bundle it.
 */
import * as z from 'zod/mini';
import { CLIENT_STATUSES } from '../status/client-status.js';
import { RELAY_EVENT_TYPES, type RelayEvent } from './relay-events.js';
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

const MESSAGE_TYPES = RELAY_EVENT_TYPES.filter((t) => t !== 'client.status_changed') as Exclude<(typeof RELAY_EVENT_TYPES)[number], 'client.status_changed'>[];

/** Every relay event; `client.status_changed` details are checked field by field, the others as objects. */
const relayEventSchema = z.discriminatedUnion('type', [
  z.object({ ...common, type: z.literal('client.status_changed'), detail: clientStatusChangedDetailSchema }),
  z.object({ ...common, type: z.enum(MESSAGE_TYPES), detail: z.record(z.string(), z.unknown()) }),
]);

/** Parses one delivered message body (raw message delivery: the event's JSON). Throws with the first problems. */
export const parseRelayEvent = (body: string): RelayEvent => {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new TypeError('relay event: body is not JSON');
  }
  const r = relayEventSchema.safeParse(json);
  if (!r.success) throw new TypeError(`relay event: ${describeIssues(r.error, 3)}`);
  return r.data;
};
