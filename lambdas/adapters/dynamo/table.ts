/**
 * The single table's layout, in one module: key schema, key builders, index attributes and item <-> record mapping.
 * The CDK stack, local provisioning and every DynamoDB store take their names from here so they cannot drift.
 *
 * | item | pk | sk |
 * |---|---|---|
 * | client status | `CLIENT#<wabaId>` | `STATUS` |
 * | timeline entry | `CLIENT#<wabaId>` | `EVENT#<event time ms, padded>#<eventId>` |
 * | parked copy | `CLIENT#<wabaId>` | `PARKED#<first enqueued ms, padded>#<messageId>` (see `parkedOrderKey`) |
 * | send claim (ledger) | `MSG#<messageId>` | `SEND` |
 * | pace slots of a phone number | `PHONE#<phoneNumberId>` | `PACE` |
 *
 * The client status item also carries the release attributes ({@link RELEASE_ATTRS}).
 */
import { type LatestByClass, STATUS_CLASSES, type StatusClass, type StatusEventRecord } from '../../core/client-status.js';
import type { ClientRecord, ReleaseProgress, TimelineEntry } from '../../core/ports.js';

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
export const TIMELINE_PREFIX = 'EVENT#';
export const PARKED_PREFIX = 'PARKED#';

export const keys = {
  clientPk,
  status: (wabaId: string): TableKey => ({ pk: clientPk(wabaId), sk: 'STATUS' }),
  timeline: (wabaId: string, orderKey: string): TableKey => ({ pk: clientPk(wabaId), sk: `${TIMELINE_PREFIX}${orderKey}` }),
  ledger: (messageId: string): TableKey => ({ pk: `MSG#${messageId}`, sk: 'SEND' }),
  /** A parked copy; `orderKey` from `parkedOrderKey` (first-enqueued time, then messageId): its release order. */
  parkedCopy: (wabaId: string, orderKey: string): TableKey => ({ pk: clientPk(wabaId), sk: `${PARKED_PREFIX}${orderKey}` }),
  pace: (phoneNumberId: string): TableKey => ({ pk: `PHONE#${phoneNumberId}`, sk: 'PACE' }),
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
    const v = item[classAttr(cls)];
    if (v && typeof v === 'object') latest[cls] = v as StatusEventRecord;
  }
  return latest;
};

const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

export const clientFromItem = (item: Record<string, unknown>): ClientRecord => ({
  wabaId: String(item.wabaId),
  firstSeenAt: String(item.firstSeenAt),
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
});

/** A timeline item without its keys. */
export const timelineFromItem = ({ pk: _pk, sk: _sk, ...rest }: Record<string, unknown>): TimelineEntry =>
  rest as unknown as TimelineEntry;
