/**
 * The single table's layout, in one module: key schema, key builders, index attributes and item <-> record mapping.
 * The CDK stack, local provisioning and every DynamoDB store take their names from here so they cannot drift.
 *
 * | item | pk | sk |
 * |---|---|---|
 * | client status | `CLIENT#<wabaId>` | `STATUS` |
 * | timeline entry | `CLIENT#<wabaId>` | `EVENT#<event time ms, padded>#<eventId>` |
 * | parked copy | `CLIENT#<wabaId>` | `PARKED#<first enqueued ms, padded>#<messageId>` (see `parkedOrderKey`) |
 * | message: its lifecycle (ledger state, wamid), outcome history, fallback | `WABA#<wabaId>#MSG#<messageId>` | `SEND` |
 * | wamid -> message (sends whose payload carried the sender's own callback data) | `WAMID#<wamid>` | `MSG` |
 * | the owner's last reply to a customer from the app (human hold) | `CLIENT#<wabaId>` | `HUMAN#<phoneNumberId>#<customer>` |
 * | phone number owner | `PHONE#<phoneNumberId>` | `OWNER` |
 * | pace slots of a phone number | `PHONE#<phoneNumberId>` | `PACE` |
 *
 * The client status item also carries the release attributes ({@link RELEASE_ATTRS}).
 *
 * WABA ids hold no `#` (the envelope schema refuses it), so a send claim's key names one `(wabaId, messageId)` and no
 * other. Send claims written before the key included the WABA (`MSG#<messageId>`) are no longer read; they expire by
 * TTL (see docs/deploying.md, upgrading).
 *
 * The client status item also holds the client's health evidence (hold, probes, restriction, disable warning): see
 * {@link HEALTH_ATTRIBUTES}. A hold lists the client in the offboarded index too (key `HOLD#<holdId>`).
 */
import { type LatestByClass, STATUS_CLASSES, type StatusClass } from '../../core/status/client-status.js';
import { type ClientHealth, PROBE_VERDICTS, type ProbeRecord } from '../../core/health/client-health.js';
import type { ClientRecord, TimelineEntry } from '../../core/status/ports.js';
import type { PhoneOwner } from '../../core/outbound/ports.js';
import type { ReleaseProgress } from '../../core/release/ports.js';
import { readStoredRecord, readStoredTimelineEntry } from '../../core/status/stored-records.js';

export const TABLE_PARTITION_KEY = 'pk';
export const TABLE_SORT_KEY = 'sk';
/** Epoch seconds after which DynamoDB deletes the item (timeline entries, parked markers, ledger entries). */
export const TABLE_TTL_ATTRIBUTE = 'expiresAt';

/**
 * Sparse index of clients that received an ACCOUNT_OFFBOARDED: the OFFBOARDED status write sets both attributes; the
 * sweeper removes clients that are no longer offboarded. Lets the sweeper find offboarded clients without a scan.
 */
export const OFFBOARDED_INDEX = 'offboarded';
export const OFFBOARDED_INDEX_PK = 'offboardedIdx';
export const OFFBOARDED_INDEX_SK = 'offboardedKey';
export const OFFBOARDED_INDEX_VALUE = 'OFFBOARDED';

export interface TableKey {
  readonly pk: string;
  readonly sk: string;
}

const clientPk = (wabaId: string): string => `CLIENT#${wabaId}`;
/** Everything about one message (its send claim, its outcome) shares this partition: one Query reads it all. */
const messagePk = (wabaId: string, messageId: string): string => `WABA#${wabaId}#MSG#${messageId}`;
export const TIMELINE_PREFIX = 'EVENT#';
export const PARKED_PREFIX = 'PARKED#';
export const PHONE_PREFIX = 'PHONE#';
export const HUMAN_PREFIX = 'HUMAN#';

export const keys = {
  clientPk,
  messagePk,
  status: (wabaId: string): TableKey => ({ pk: clientPk(wabaId), sk: 'STATUS' }),
  timeline: (wabaId: string, orderKey: string): TableKey => ({ pk: clientPk(wabaId), sk: `${TIMELINE_PREFIX}${orderKey}` }),
  /**
   * A message: its send ledger entry (`core/send-ledger.ts`), its outcome history (one entry per state reached, see
   * `core/message-outcome.ts`) and its fallback, on one item, so a status write can check the wamid the send recorded.
   */
  message: (wabaId: string, messageId: string): TableKey => ({ pk: messagePk(wabaId, messageId), sk: 'SEND' }),
  /** The same item, named for the ledger's use of it. */
  ledger: (wabaId: string, messageId: string): TableKey => ({ pk: messagePk(wabaId, messageId), sk: 'SEND' }),
  /** Which message a wamid belongs to (attributes `wabaId`, `messageId`). */
  wamid: (wamid: string): TableKey => ({ pk: `WAMID#${wamid}`, sk: 'MSG' }),
  /**
   * When the business owner last wrote to `customer` (a phone number or a BSUID) from the WhatsApp Business app on
   * `phoneNumberId` (attribute `repliedAtMs`, only ever moved forward): what holds automated messages to that customer.
   */
  humanReply: (wabaId: string, phoneNumberId: string, customer: string): TableKey => ({ pk: clientPk(wabaId), sk: `${HUMAN_PREFIX}${phoneNumberId}#${customer}` }),
  /** Which WABA owns a business phone number id (attributes `wabaId`, `learnedFrom`, `learnedAt`). */
  phoneOwner: (phoneNumberId: string): TableKey => ({ pk: `${PHONE_PREFIX}${phoneNumberId}`, sk: 'OWNER' }),
  /** A parked copy; `orderKey` from `parkedOrderKey` (first-enqueued time, then messageId): its release order. */
  parkedCopy: (wabaId: string, orderKey: string): TableKey => ({ pk: clientPk(wabaId), sk: `${PARKED_PREFIX}${orderKey}` }),
  /** Release pace slots of a phone number (attribute `nextSlotMs`). */
  pace: (phoneNumberId: string): TableKey => ({ pk: `${PHONE_PREFIX}${phoneNumberId}`, sk: 'PACE' }),
} as const;

/** Status-item attributes of the release (lease, drain flag, last release). */
export const RELEASE_ATTRS = {
  drainSince: 'releaseDrainSince',
  beatAt: 'releaseBeatAt',
  leaseId: 'releaseLeaseId',
  leaseUntil: 'releaseLeaseUntil',
  last: 'lastRelease',
} as const;

/** Parked-message markers written before parked copies existed (`PARKED#<ISO time>#...`): their message is on the delay queue. */
export const LEGACY_PARKED_MARKER = /^PARKED#\d{4}-\d\d-\d\dT/;

/** The status item's attribute holding the latest event of one class. */
export const classAttr = (cls: StatusClass): string => `cls_${cls}`;

/** Epoch seconds `days` after `nowMs`, for the TTL attribute. */
export const ttlAfterDays = (nowMs: number, days: number): number => Math.floor(nowMs / 1000) + days * 86_400;

export const latestFromItem = (item: Record<string, unknown> | undefined): LatestByClass => {
  const latest: LatestByClass = {};
  if (!item) return latest;
  for (const cls of STATUS_CLASSES) {
    // Whatever was stored (by an older version, or by hand) is shown, never a reason to fail.
    const r = readStoredRecord(item[classAttr(cls)]);
    if (r) latest[cls] = r;
  }
  return latest;
};

const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

export const clientFromItem = (item: Record<string, unknown>): ClientRecord => ({
  wabaId: typeof item.wabaId === 'string' ? item.wabaId : String(item.pk ?? '').replace(/^CLIENT#/, ''),
  firstSeenAt: typeof item.firstSeenAt === 'string' ? item.firstSeenAt : '',
  latest: latestFromItem(item),
  counters: {
    parked: num(item.parkedTotal),
    sent: num(item.sentTotal),
    deadLettered: num(item.deadLetteredTotal),
    ambiguousResends: num(item.ambiguousResends),
  },
  release: {
    drainSince: typeof item[RELEASE_ATTRS.drainSince] === 'number' ? (item[RELEASE_ATTRS.drainSince] as number) : null,
    last: (item[RELEASE_ATTRS.last] as ReleaseProgress | undefined) ?? null,
  },
  health: healthFromItem(item),
  phoneNumberId: phoneNumberIdFromItem(item),
});

/** A timeline item without its keys; odd stored values are shown, never a reason to fail. */
export const timelineFromItem = (item: Record<string, unknown>): TimelineEntry =>
  readStoredTimelineEntry(item, typeof item.wabaId === 'string' ? item.wabaId : String(item.pk ?? '').replace(/^CLIENT#/, ''));

/** The UpdateItem parts that write a whole timeline entry, as a put would (its keys come from `keys.timeline`). */
export const timelineItemUpdate = (entry: TimelineEntry) => {
  const attrs = Object.entries(entry).filter(([, v]) => v !== undefined);
  return {
    UpdateExpression: `SET ${attrs.map((_, i) => `#t${i} = :t${i}`).join(', ')}`,
    ExpressionAttributeNames: Object.fromEntries(attrs.map(([k], i) => [`#t${i}`, k])),
    ExpressionAttributeValues: Object.fromEntries(attrs.map(([, v], i) => [`:t${i}`, v])),
  };
};

/** A phone number owner item; an unknown `learnedFrom` reads as a webhook, a missing `learnedAt` as 0. */
export const phoneOwnerFromItem = (item: Record<string, unknown>): PhoneOwner | null =>
  typeof item.wabaId === 'string'
    ? { wabaId: item.wabaId, learnedFrom: item.learnedFrom === 'send' ? 'send' : 'webhook', learnedAt: typeof item.learnedAt === 'number' ? item.learnedAt : 0 }
    : null;

/** Attributes of the client status item that hold its health evidence (the item's other attributes: the status). */
export const HEALTH_ATTRIBUTES = {
  hold: 'hold',
  probe: 'probe',
  canSendAt: 'canSendAt',
  nextProbeAt: 'nextProbeAt',
  probeAttempt: 'probeAttempt',
  restriction: 'restriction',
  disableWarning: 'disableWarning',
  /** The phone number id of the client's latest outbound message: what the sweeper probes for a long offboarding. */
  phoneNumberId: 'lastPhoneNumberId',
} as const;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const numOr = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Reads the health evidence of a status item; anything malformed reads as absent, never as an error. */
export const healthFromItem = (item: Record<string, unknown> | undefined): ClientHealth => {
  if (!item) return {};
  const h: { -readonly [K in keyof ClientHealth]: ClientHealth[K] } = {};
  const hold = item[HEALTH_ATTRIBUTES.hold];
  if (isObj(hold) && typeof hold.holdId === 'string' && numOr(hold.startedAtMs) !== undefined) {
    h.hold = {
      holdId: hold.holdId,
      startedAtMs: numOr(hold.startedAtMs) as number,
      code: str(hold.code),
      why: str(hold.why),
      phoneNumberId: str(hold.phoneNumberId),
      messageId: str(hold.messageId),
      ...(hold.reason === 'token-invalid' ? { reason: 'token-invalid' as const } : {}),
    };
  }
  const probe = item[HEALTH_ATTRIBUTES.probe];
  if (isObj(probe) && numOr(probe.atMs) !== undefined && (PROBE_VERDICTS as readonly unknown[]).includes(probe.verdict)) {
    h.probe = probe as unknown as ProbeRecord;
  }
  const canSend = numOr(item[HEALTH_ATTRIBUTES.canSendAt]);
  if (canSend !== undefined) h.canSendAtMs = canSend;
  const next = numOr(item[HEALTH_ATTRIBUTES.nextProbeAt]);
  if (next !== undefined) h.nextProbeAtMs = next;
  const attempt = numOr(item[HEALTH_ATTRIBUTES.probeAttempt]);
  if (attempt !== undefined) h.probeAttempt = attempt;
  const r = item[HEALTH_ATTRIBUTES.restriction];
  if (isObj(r) && numOr(r.eventTimeMs) !== undefined && Array.isArray(r.restrictions)) {
    h.restriction = {
      orderKey: str(r.orderKey),
      eventId: str(r.eventId),
      eventTimeMs: numOr(r.eventTimeMs) as number,
      appliedAt: str(r.appliedAt),
      restrictions: r.restrictions.filter(isObj).map((x) => ({ type: str(x.type), expiresAtMs: numOr(x.expiresAtMs) ?? null })),
    };
  }
  const w = item[HEALTH_ATTRIBUTES.disableWarning];
  if (isObj(w) && numOr(w.eventTimeMs) !== undefined) {
    h.disableWarning = {
      orderKey: str(w.orderKey),
      eventId: str(w.eventId),
      eventTimeMs: numOr(w.eventTimeMs) as number,
      appliedAt: str(w.appliedAt),
      ...(typeof w.banDate === 'string' ? { banDate: w.banDate } : {}),
    };
  }
  return h;
};

export const phoneNumberIdFromItem = (item: Record<string, unknown> | undefined): string | null => {
  const v = item?.[HEALTH_ATTRIBUTES.phoneNumberId];
  return typeof v === 'string' && v.length > 0 ? v : null;
};

/** The projection a reader needs to derive health (with the status attributes). */
export const HEALTH_PROJECTION = Object.values(HEALTH_ATTRIBUTES);
