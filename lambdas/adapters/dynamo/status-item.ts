import { type LatestByClass, STATUS_CLASSES, type StatusClass } from '../../core/status/client-status.js';
import { type ClientHealth, PROBE_VERDICTS, type ProbeRecord } from '../../core/health/client-health.js';
import type { ClientRecord } from '../../core/status/ports.js';
import type { ReleaseGate, ReleaseProgress } from '../../core/release/ports.js';
import { readStoredRecord } from '../../core/status/stored-records.js';
import { countersFromItems } from './counters-item.js';

/**
 * The client status item (`keys.status`): the latest event of each status class, the release's lease and drain flag,
 * and its health evidence (the counters have their own item, `counters-item.ts`). Its attribute names and its item -> record mapping, in one place.
 */

/** Plain attributes of the status item. */
export const STATUS_ATTRS = {
  wabaId: 'wabaId',
  firstSeenAt: 'firstSeenAt',
  updatedAt: 'updatedAt',
  lastResetAt: 'lastResetAt',
} as const;

/**
 * The SET clause every write to a status item carries, so that the first write of any kind creates the client:
 * `:waba` holds the WABA id, `seen` names the value placeholder of the first-seen time.
 */
export const clientCreateSet = (seen: string): string =>
  `${STATUS_ATTRS.wabaId} = :waba, ${STATUS_ATTRS.firstSeenAt} = if_not_exists(${STATUS_ATTRS.firstSeenAt}, ${seen})`;

/** The status item's attribute holding the latest event of one class. */
export const classAttr = (cls: StatusClass): string => `cls_${cls}`;

/** Status-item attributes of the release (lease, drain flag, last release). */
export const RELEASE_ATTRS = {
  drainSince: 'releaseDrainSince',
  beatAt: 'releaseBeatAt',
  leaseId: 'releaseLeaseId',
  leaseUntil: 'releaseLeaseUntil',
  last: 'lastRelease',
} as const;

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

/** The client from its status item and its counters item (absent before the client's first counted message). */
export const clientFromItem = (item: Record<string, unknown>, countersItem?: Record<string, unknown>): ClientRecord => ({
  wabaId: typeof item[STATUS_ATTRS.wabaId] === 'string' ? (item[STATUS_ATTRS.wabaId] as string) : String(item.pk ?? '').replace(/^CLIENT#/, ''),
  firstSeenAt: typeof item[STATUS_ATTRS.firstSeenAt] === 'string' ? (item[STATUS_ATTRS.firstSeenAt] as string) : '',
  latest: latestFromItem(item),
  // The counters item's, plus any written on the status item before the counters moved to their own item.
  counters: countersFromItems(item, countersItem),
  release: {
    drainSince: typeof item[RELEASE_ATTRS.drainSince] === 'number' ? (item[RELEASE_ATTRS.drainSince] as number) : null,
    last: (item[RELEASE_ATTRS.last] as ReleaseProgress | undefined) ?? null,
  },
  health: healthFromItem(item),
  phoneNumberId: phoneNumberIdFromItem(item),
});

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

const RELEASE_PROJECTION_ATTRS = [STATUS_ATTRS.wabaId, ...STATUS_CLASSES.map(classAttr), ...Object.values(RELEASE_ATTRS)];
/** The projection a reader of the release gate needs. */
export const RELEASE_PROJECTION = RELEASE_PROJECTION_ATTRS.join(', ');
const numOrNull = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/** Reads the release part of a status item. */
export const releaseGateFromItem = (item: Record<string, unknown> | undefined): ReleaseGate => ({
  latest: latestFromItem(item),
  drainSince: numOrNull(item?.[RELEASE_ATTRS.drainSince]),
  beatAt: numOrNull(item?.[RELEASE_ATTRS.beatAt]),
  lastRelease: (item?.[RELEASE_ATTRS.last] as ReleaseProgress | undefined) ?? null,
});
