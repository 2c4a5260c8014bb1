import { hash } from 'node:crypto';
import * as z from 'zod/mini';
import { serializeJson } from '../shared/bounded-json.js';
import { classifyAccountEvent } from '../status/client-status.js';
import { DEFAULTS } from '../shared/defaults.js';
import { describeRawTime, readEventTime, representableTimeMs } from '../status/event-time.js';
import { boundedText, ID_RULE, isRelayId } from '../shared/ids.js';
import type { Mutable } from '../shared/mutable.js';
import { describeIssues, lazily } from '../shared/zod.js';
import { type EventTimeContext, readStatuses } from './message-statuses.js';
import {
  type AccountUpdate,
  type ForwardedChange,
  MAX_UNKNOWN_PROPERTIES_NAMED,
  type ParsedChange,
  type ParsedWebhook,
  type UnreadableChange,
} from './parsed-change.js';
import { id, lenient, text } from './payload-fields.js';

/** Reading a verified webhook body: entries and changes into {@link ParsedChange}s (their types in parsed-change.ts). */

const WABA_OBJECT = 'whatsapp_business_account';
const ACCOUNT_UPDATE = 'account_update';
const MESSAGES = 'messages';
/** Meta's documented maximum number of updates in one POST. */
export const MAX_CHANGES_PER_POST = 1000;

/** Field names become SQS message attributes: plain ASCII, short. */
const FIELD = /^[A-Za-z0-9_.-]{1,64}$/;
/** Event names are stored: printable ASCII, short (unknown names are welcome, within this). */
const EVENT = /^[\x21-\x7e]{1,128}$/;

const change = z.looseObject({ field: z.string().check(z.minLength(1)), value: z.unknown() });

const entry = z.looseObject({
  id,
  time: z.optional(z.unknown()),
  changes: z.optional(z.array(z.unknown())),
});

const body = z.looseObject({
  object: z.string(),
  entry: z.array(z.unknown()),
});

/**
 * The same three wrapper schemas for the shapes Meta always sends, without zod's copy of each object and array (a third
 * of the webhook's CPU on a 1 KB body). Each answers only what its schema surely accepts, with the fields it would give,
 * and null otherwise: zod then decides, so what is refused, and the words saying why, stay the schemas'.
 */
type Parsed<T> = { readonly success: true; readonly data: T };
const record = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const quick = {
  body: (v: unknown): Parsed<{ object: string; entry: unknown[] }> | null =>
    record(v) && typeof v.object === 'string' && Array.isArray(v.entry) ? { success: true, data: { object: v.object, entry: v.entry } } : null,
  entry: (v: unknown): Parsed<{ id: string; time?: unknown; changes?: unknown[] }> | null => {
    if (!record(v) || typeof v.id !== 'string' || v.id.length === 0) return null;
    if (v.changes !== undefined && !Array.isArray(v.changes)) return null;
    return { success: true, data: { id: v.id, time: v.time, ...(v.changes !== undefined ? { changes: v.changes as unknown[] } : {}) } };
  },
  change: (v: unknown): Parsed<{ field: string; value: unknown }> | null =>
    record(v) && typeof v.field === 'string' && v.field.length > 0 ? { success: true, data: { field: v.field, value: v.value } } : null,
};

/** Built on the first `account_update` change read, not at import: a POST of message statuses never needs it. */
export const accountUpdateValue = lazily(() => {
  const banState = z.pipe(
    z.union([z.string(), z.array(z.string())]),
    z.transform((s: string | string[]) => boundedText((Array.isArray(s) ? s[0] : s) ?? '')),
  );
  return z.looseObject({
  event: z.string().check(z.minLength(1)),
  waba_info: lenient(z.looseObject({ waba_id: z.optional(id) })),
  disconnection_info: lenient(z.looseObject({ reason: lenient(text), initiated_by: lenient(text) })),
  ban_info: lenient(z.looseObject({ waba_ban_state: lenient(banState), waba_ban_date: lenient(text) })),
  restriction_info: lenient(
    z.array(z.looseObject({ restriction_type: z.string().check(z.minLength(1)), expiration: z.optional(z.unknown()) })),
  ),
  phone_number: lenient(text),
  });
});

/** A lenient field's reader for {@link quickAccountValue}: its value as zod gives it, or {@link ASK_ZOD}. */
const ASK_ZOD = Symbol('ask zod');
type QuickField = (v: unknown) => unknown;
const quickText: QuickField = (v) => (typeof v === 'string' ? boundedText(v) : ASK_ZOD);
const quickId: QuickField = (v) => (typeof v === 'string' && v.length > 0 ? v : ASK_ZOD);

/** zod's `looseObject` output for the shapes each reader takes: the known keys (in schema order), then the others. */
const quickLoose = (v: unknown, fields: Readonly<Record<string, QuickField>>): Record<string, unknown> | typeof ASK_ZOD => {
  if (!record(v) || Object.hasOwn(v, '__proto__')) return ASK_ZOD;
  const out: Record<string, unknown> = {};
  for (const k in fields) {
    const x = v[k];
    if (x === undefined) {
      if (k in v) out[k] = undefined;
      continue;
    }
    const read = (fields[k] as QuickField)(x);
    if (read === ASK_ZOD) return ASK_ZOD;
    out[k] = read;
  }
  for (const k in v) if (!Object.hasOwn(fields, k)) out[k] = v[k];
  return out;
};

const ACCOUNT_VALUE_FIELDS: Readonly<Record<string, QuickField>> = {
  event: (v) => (typeof v === 'string' && v.length > 0 ? v : ASK_ZOD),
  waba_info: (v) => quickLoose(v, { waba_id: quickId }),
  disconnection_info: (v) => quickLoose(v, { reason: quickText, initiated_by: quickText }),
  ban_info: (v) => quickLoose(v, { waba_ban_state: quickText, waba_ban_date: quickText }),
  restriction_info: () => ASK_ZOD,
  phone_number: quickText,
};

/**
 * `accountUpdateValue.safeParse` for the shapes Meta sends (string fields, no restrictions) without zod's per-field
 * work (a fifth of the webhook's CPU on a 1 KB body): the same data, or null and zod decides.
 */
export const quickAccountValue = (v: unknown): Parsed<z.infer<ReturnType<typeof accountUpdateValue>>> | null => {
  if (!record(v) || v.event === undefined) return null;
  const data = quickLoose(v, ACCOUNT_VALUE_FIELDS);
  return data === ASK_ZOD ? null : { success: true, data: data as z.infer<ReturnType<typeof accountUpdateValue>> };
};

const messagesValue = z.looseObject({
  metadata: lenient(z.looseObject({ phone_number_id: z.optional(id) })),
  messages: lenient(z.array(z.unknown())),
  statuses: lenient(z.array(z.unknown())),
});

export interface ParseOptions {
  /** When the relay received the POST (ms); event times are checked against it. Default: now. */
  readonly receivedAtMs?: number;
  /** How far after receipt an event time may lie (ms). Default: `DEFAULTS.maxEventFutureSkewSeconds`. */
  readonly maxFutureSkewMs?: number;
}

const KNOWN_VALUE_KEYS = new Set(['event', 'waba_info', 'disconnection_info', 'ban_info', 'phone_number', 'restriction_info']);

/**
 * Ids hash the change as parsed and re-serialised: a redelivery carries the same body, so the same text. Cheaper than a
 * canonical (key-sorted) form, which only matters if Meta re-serialised a payload differently between retries.
 */
const digest = (...parts: readonly string[]): string => hash('sha256', parts.join('\u0000'), 'hex').slice(0, 32);

const firstIssue = (error: Parameters<typeof describeIssues>[0]): string => describeIssues(error);

/**
 * Reads every entry and every change of a parsed (and already verified) webhook body.
 * Never throws for content: what cannot be read becomes an {@link UnreadableChange}.
 */
export const parseWebhook = (json: unknown, options: ParseOptions = {}): ParsedWebhook => {
  const top = quick.body(json) ?? body.safeParse(json);
  if (!top.success) {
    if (json && typeof json === 'object' && 'object' in json && (json as { object: unknown }).object !== WABA_OBJECT) {
      return { kind: 'ignored', object: String((json as { object: unknown }).object) };
    }
    return { kind: 'invalid', problem: firstIssue(top.error) };
  }
  if (top.data.object !== WABA_OBJECT) return { kind: 'ignored', object: top.data.object };
  const ctx: EventTimeContext = {
    receivedAtMs: options.receivedAtMs ?? Date.now(),
    maxFutureSkewMs: options.maxFutureSkewMs ?? DEFAULTS.maxEventFutureSkewSeconds * 1000,
  };

  const changes: ParsedChange[] = [];
  top.data.entry.forEach((rawEntry, entryIndex) => {
    const e = quick.entry(rawEntry) ?? entry.safeParse(rawEntry);
    if (!e.success) {
      changes.push(unreadable(null, `entry[${entryIndex}] ${firstIssue(e.error)}`, rawEntry));
      return;
    }
    const list = e.data.changes ?? [];
    if (!isRelayId(e.data.id)) {
      // Every change of the entry is kept, none is keyed by an id that cannot be a key.
      for (let changeIndex = 0; changeIndex < list.length; changeIndex++) {
        changes.push(unreadable(null, `invalid-id: entry[${entryIndex}].id ${ID_RULE}`, list[changeIndex]));
      }
      return;
    }
    for (let changeIndex = 0; changeIndex < list.length; changeIndex++) {
      changes.push(readChange(e.data.id, e.data.time, list[changeIndex], entryIndex, changeIndex, ctx));
    }
  });
  return { kind: 'changes', changes };
};

const unreadable = (wabaId: string | null, problem: string, raw: unknown): UnreadableChange => ({
  kind: 'unreadable',
  wabaId,
  problem,
  raw,
  dedupeId: digest('unreadable', wabaId ?? '', serializeJson(raw)),
});

/** The newest `timestamp` of `value.messages[]` / `value.statuses[]` that passes the event-time rule. */
const newestItemTime = (lists: readonly (readonly unknown[] | undefined)[], ctx: EventTimeContext): number | null => {
  let newest: number | null = null;
  for (const list of lists) {
    for (const item of list ?? []) {
      if (!item || typeof item !== 'object') continue;
      const t = readEventTime((item as { timestamp?: unknown }).timestamp, ctx.receivedAtMs, ctx.maxFutureSkewMs);
      if (t.ok && (newest === null || t.ms > newest)) newest = t.ms;
    }
  }
  return newest;
};

const readChange = (entryId: string, rawTime: unknown, rawChange: unknown, entryIndex: number, changeIndex: number, ctx: EventTimeContext): ParsedChange => {
  const where = () => `entry[${entryIndex}].changes[${changeIndex}]`;
  const c = quick.change(rawChange) ?? change.safeParse(rawChange);
  if (!c.success) return unreadable(entryId, `${where()} ${firstIssue(c.error)}`, rawChange);
  const { field, value } = c.data;
  if (!FIELD.test(field)) return unreadable(entryId, `invalid-field: ${where()}.field must be 1-64 letters, digits, "_", "." or "-"`, rawChange);
  if (field !== ACCOUNT_UPDATE) {
    // Forwarded as it came: the relay decides nothing with this time, it only passes it on when it is readable.
    const entryTimeMs = representableTimeMs(rawTime);
    const forwarded: Mutable<ForwardedChange> = {
      kind: 'forward',
      wabaId: entryId,
      field,
      entryTimeMs,
      value,
      dedupeId: digest('forward', entryId, field, String(entryTimeMs ?? ''), serializeJson(value)),
    };
    if (field === MESSAGES) {
      const m = messagesValue.safeParse(value);
      const statuses = m.success ? readStatuses(m.data.statuses, ctx) : [];
      if (statuses.length > 0) forwarded.statuses = statuses;
      const phone = m.success ? m.data.metadata?.phone_number_id : undefined;
      if (m.success && phone !== undefined && isRelayId(phone)) {
        const t = readEventTime(rawTime, ctx.receivedAtMs, ctx.maxFutureSkewMs);
        forwarded.phoneNumberId = phone;
        forwarded.seenAtMs = t.ok ? t.ms : newestItemTime([m.data.messages, m.data.statuses], ctx);
      }
    }
    return forwarded;
  }
  const v = quickAccountValue(value) ?? accountUpdateValue().safeParse(value);
  if (!v.success) return unreadable(entryId, `${where()}.value ${firstIssue(v.error)}`, rawChange);
  const data = v.data;
  if (!EVENT.test(data.event)) return unreadable(entryId, `invalid-event: ${where()}.value.event must be 1-128 printable ASCII characters`, rawChange);
  const wabaId = data.waba_info?.waba_id ?? entryId;
  if (!isRelayId(wabaId)) return unreadable(entryId, `invalid-id: ${where()}.value.waba_info.waba_id ${ID_RULE}`, rawChange);
  const ban = data.ban_info?.waba_ban_state;
  const valueJson = serializeJson(value);
  const time = readEventTime(rawTime, ctx.receivedAtMs, ctx.maxFutureSkewMs);
  if (!time.ok) {
    const shownTime = describeRawTime(rawTime);
    return {
      kind: 'rejected-time',
      wabaId,
      entryId,
      event: data.event,
      eventId: digest(ACCOUNT_UPDATE, wabaId, `rejected:${shownTime}`, valueJson),
      statusClass: classifyAccountEvent(data.event, ban),
      problem: time.problem,
      detail: `entry[${entryIndex}].${time.detail}`,
      claimedTimeMs: time.ms,
      rawTime: shownTime,
      raw: rawChange,
      dedupeId: digest('rejected-time', wabaId, shownTime, valueJson),
    };
  }
  const update: Mutable<AccountUpdate> = {
    kind: 'account_update',
    wabaId,
    entryId,
    eventTimeMs: time.ms,
    event: data.event,
    eventId: digest(ACCOUNT_UPDATE, wabaId, String(time.ms), valueJson),
    statusClass: classifyAccountEvent(data.event, ban),
    unknownProperties: NO_UNKNOWN,
    raw: rawChange,
  };
  const info = data.disconnection_info;
  if (info) {
    const disconnection: { reason?: string; initiatedBy?: string } = {};
    if (info.reason !== undefined) disconnection.reason = info.reason;
    if (info.initiated_by !== undefined) disconnection.initiatedBy = info.initiated_by;
    update.disconnection = disconnection;
  }
  if (ban) update.banState = ban;
  if (data.ban_info?.waba_ban_date) update.banDate = data.ban_info.waba_ban_date.slice(0, 100);
  if (data.restriction_info) {
    update.restrictions = data.restriction_info.slice(0, 20).map((r) => ({
      type: r.restriction_type.slice(0, 100),
      expiresAtMs: representableTimeMs(r.expiration),
    }));
  }
  if (data.phone_number) update.phoneNumber = data.phone_number;
  let unknown = 0;
  const named: string[] = [];
  for (const k in data) {
    if (KNOWN_VALUE_KEYS.has(k)) continue;
    unknown++;
    if (named.length < MAX_UNKNOWN_PROPERTIES_NAMED) named.push(boundedText(k, 64));
  }
  if (unknown > 0) update.unknownProperties = named;
  if (unknown > named.length) update.unknownPropertyCount = unknown;
  return update;
};

const NO_UNKNOWN: readonly string[] = [];
