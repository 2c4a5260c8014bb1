import { hash } from 'node:crypto';
import * as z from 'zod/mini';
import { classifyAccountEvent, type DisconnectionInfo, type StatusClass } from './client-status.js';
import { describeIssues } from './zod.js';

export const WABA_OBJECT = 'whatsapp_business_account';
export const ACCOUNT_UPDATE = 'account_update';
/** Meta's documented maximum number of updates in one POST. */
export const MAX_CHANGES_PER_POST = 1000;

/** Ids come as strings, but a number must not break the receiver. */
const id = z.pipe(
  z.union([z.string().check(z.minLength(1)), z.number().check(z.int(), z.nonnegative())]),
  z.transform(String),
);

const NUMERIC = /^\s*\d+(\.\d+)?\s*$/;

/** Unix seconds as a number or a numeric string; values above 10^12 are milliseconds. Normalised to ms, or null. */
export const webhookTimeMs = (raw: unknown): number | null => {
  const t = typeof raw === 'number' ? raw : typeof raw === 'string' && NUMERIC.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isFinite(t) || t <= 0) return null;
  return Math.round(t > 1e12 ? t : t * 1000);
};

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

/** An optional part that, when malformed, is treated as absent rather than failing the whole change. */
const lenient = <T extends z.ZodMiniType>(schema: T) => z.catch(z.optional(schema), undefined);

const banState = z.pipe(
  z.union([z.string(), z.array(z.string())]),
  z.transform((s: string | string[]) => (Array.isArray(s) ? s[0] : s)),
);

const accountUpdateValue = z.looseObject({
  event: z.string().check(z.minLength(1)),
  waba_info: lenient(z.looseObject({ waba_id: z.optional(id) })),
  disconnection_info: lenient(z.looseObject({ reason: z.optional(z.string()), initiated_by: z.optional(z.string()) })),
  ban_info: lenient(z.looseObject({ waba_ban_state: lenient(banState), waba_ban_date: lenient(z.string()) })),
  restriction_info: lenient(
    z.array(z.looseObject({ restriction_type: z.string().check(z.minLength(1)), expiration: z.optional(z.unknown()) })),
  ),
  phone_number: lenient(z.pipe(z.union([z.string(), z.number()]), z.transform(String))),
});

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
  /** Properties of `value` this version does not know; recorded, never rejected. */
  readonly unknownProperties: readonly string[];
}

/** A change of any other field (`messages`, `smb_message_echoes`, ...), forwarded as it came. */
export interface ForwardedChange {
  readonly kind: 'forward';
  readonly wabaId: string;
  readonly field: string;
  readonly entryTimeMs: number | null;
  readonly value: unknown;
  readonly dedupeId: string;
}

/** A change that could not be read (no field, account_update without event or time, ...). Kept, never dropped. */
export interface UnreadableChange {
  readonly kind: 'unreadable';
  readonly wabaId: string | null;
  readonly problem: string;
  readonly raw: unknown;
  readonly dedupeId: string;
}

export type ParsedChange = AccountUpdate | ForwardedChange | UnreadableChange;

export type ParsedWebhook =
  | { readonly kind: 'ignored'; readonly object: string }
  | { readonly kind: 'changes'; readonly changes: readonly ParsedChange[] }
  | { readonly kind: 'invalid'; readonly problem: string };

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
export const parseWebhook = (json: unknown): ParsedWebhook => {
  const top = body.safeParse(json);
  if (!top.success) {
    if (json && typeof json === 'object' && 'object' in json && (json as { object: unknown }).object !== WABA_OBJECT) {
      return { kind: 'ignored', object: String((json as { object: unknown }).object) };
    }
    return { kind: 'invalid', problem: firstIssue(top.error) };
  }
  if (top.data.object !== WABA_OBJECT) return { kind: 'ignored', object: top.data.object };

  const changes: ParsedChange[] = [];
  top.data.entry.forEach((rawEntry, entryIndex) => {
    const e = entry.safeParse(rawEntry);
    if (!e.success) {
      changes.push(unreadable(null, `entry[${entryIndex}] ${firstIssue(e.error)}`, rawEntry));
      return;
    }
    const entryTimeMs = webhookTimeMs(e.data.time);
    const list = e.data.changes ?? [];
    for (let changeIndex = 0; changeIndex < list.length; changeIndex++) {
      changes.push(readChange(e.data.id, entryTimeMs, list[changeIndex], entryIndex, changeIndex));
    }
  });
  return { kind: 'changes', changes };
};

const unreadable = (wabaId: string | null, problem: string, raw: unknown): UnreadableChange => ({
  kind: 'unreadable',
  wabaId,
  problem,
  raw,
  dedupeId: digest('unreadable', wabaId ?? '', JSON.stringify(raw)),
});

const readChange = (entryId: string, entryTimeMs: number | null, rawChange: unknown, entryIndex: number, changeIndex: number): ParsedChange => {
  const where = () => `entry[${entryIndex}].changes[${changeIndex}]`;
  const c = change.safeParse(rawChange);
  if (!c.success) return unreadable(entryId, `${where()} ${firstIssue(c.error)}`, rawChange);
  const { field, value } = c.data;
  if (field !== ACCOUNT_UPDATE) {
    return {
      kind: 'forward',
      wabaId: entryId,
      field,
      entryTimeMs,
      value,
      dedupeId: digest('forward', entryId, field, String(entryTimeMs ?? ''), JSON.stringify(value)),
    };
  }
  const v = accountUpdateValue.safeParse(value);
  if (!v.success) return unreadable(entryId, `${where()}.value ${firstIssue(v.error)}`, rawChange);
  if (entryTimeMs === null) return unreadable(entryId, `${where()}: entry has no usable time`, rawChange);
  const data = v.data;
  const wabaId = data.waba_info?.waba_id ?? entryId;
  const ban = data.ban_info?.waba_ban_state;
  const update: Mutable<AccountUpdate> = {
    kind: 'account_update',
    wabaId,
    entryId,
    eventTimeMs: entryTimeMs,
    event: data.event,
    eventId: digest(ACCOUNT_UPDATE, wabaId, String(entryTimeMs), JSON.stringify(value)),
    statusClass: classifyAccountEvent(data.event, ban),
    unknownProperties: NO_UNKNOWN,
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
      expiresAtMs: webhookTimeMs(r.expiration),
    }));
  }
  if (data.phone_number) update.phoneNumber = data.phone_number;
  for (const k in data) {
    if (!KNOWN_VALUE_KEYS.has(k)) update.unknownProperties = [...update.unknownProperties, k];
  }
  return update;
};

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
const NO_UNKNOWN: readonly string[] = [];

