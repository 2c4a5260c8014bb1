/**
 * Client status rules: pure functions over plain values, no I/O.
 *
 * Each status-changing `account_update` event belongs to one class. The store keeps, per client, only the
 * latest event of each class (a commutative "max" per class, enforced with a conditional write), and the
 * status is derived from those few records. Because "keep the maximum" does not depend on the order in
 * which events arrive, neither does the derived status.
 */
import { DEFAULTS } from '../shared/defaults.js';

export const CLIENT_STATUSES = ['CONNECTED', 'OFFBOARDED', 'REMOVED', 'DELETED', 'DISABLED'] as const;
export type ClientStatus = (typeof CLIENT_STATUSES)[number];

/** The classes of events that decide a client's status. RECONNECTED is kept apart from CONNECTED for the skew rule. */
export const STATUS_CLASSES = ['CONNECTED', 'RECONNECTED', 'OFFBOARDED', 'REMOVED', 'DELETED', 'DISABLED'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

const STATUS_OF_CLASS: Readonly<Record<StatusClass, ClientStatus>> = {
  CONNECTED: 'CONNECTED',
  RECONNECTED: 'CONNECTED',
  OFFBOARDED: 'OFFBOARDED',
  REMOVED: 'REMOVED',
  DELETED: 'DELETED',
  DISABLED: 'DISABLED',
};

/**
 * When two events of different classes carry the same time, the more restrictive one wins, so that a tie
 * never lets messages go out to a client that may have been lost.
 */
const TIE_RANK: Readonly<Record<StatusClass, number>> = {
  CONNECTED: 0,
  RECONNECTED: 1,
  OFFBOARDED: 2,
  DISABLED: 3,
  REMOVED: 4,
  DELETED: 5,
};

export interface DisconnectionInfo {
  readonly reason?: string;
  readonly initiatedBy?: string;
}

/** The latest event of one class, as stored on the client. */
export interface StatusEventRecord {
  /** Sort key for "latest": zero-padded event time in ms, then the event id (a deterministic tie-break). */
  readonly orderKey: string;
  readonly event: string;
  readonly eventId: string;
  readonly eventTimeMs: number;
  /** When this relay first applied the event (ISO-8601). */
  readonly appliedAt: string;
  readonly disconnection?: DisconnectionInfo;
  readonly banState?: string;
}

export type LatestByClass = Partial<Record<StatusClass, StatusEventRecord>>;

export interface DerivedStatus {
  readonly status: ClientStatus;
  /** The event that put the client in this status; null when no status event was ever received. */
  readonly setBy: StatusEventRecord | null;
  readonly setByClass: StatusClass | null;
}

/** Default window in which an OFFBOARDED and a RECONNECTED count as "offboarded, then reconnected". */
export const DEFAULT_RECONNECT_SKEW_MS = DEFAULTS.reconnectSkewSeconds * 1000;

export const orderKeyOf = (eventTimeMs: number, eventId: string): string =>
  `${Math.max(0, Math.trunc(eventTimeMs)).toString().padStart(16, '0')}#${eventId}`;

/**
 * Maps an `account_update` event to the class it belongs to, or null when it does not change whether the client
 * may send (restrictions, violations, pricing updates, events Meta adds later, ...).
 */
export const classifyAccountEvent = (event: string, banState: string | undefined): StatusClass | null => {
  switch (event) {
    case 'ACCOUNT_OFFBOARDED':
      return 'OFFBOARDED';
    case 'ACCOUNT_RECONNECTED':
      return 'RECONNECTED';
    case 'PARTNER_REMOVED':
    case 'PARTNER_APP_UNINSTALLED':
      return 'REMOVED';
    case 'ACCOUNT_DELETED':
      return 'DELETED';
    case 'PARTNER_ADDED':
    case 'PARTNER_APP_INSTALLED':
      return 'CONNECTED';
    case 'DISABLED_UPDATE':
      if (banState === 'DISABLE') return 'DISABLED';
      if (banState === 'REINSTATE') return 'CONNECTED';
      return null;
    default:
      return null;
  }
};

interface Candidate {
  readonly cls: StatusClass;
  readonly rec: StatusEventRecord;
}

const later = (a: Candidate, b: Candidate): Candidate => {
  if (a.rec.eventTimeMs !== b.rec.eventTimeMs) return a.rec.eventTimeMs > b.rec.eventTimeMs ? a : b;
  if (TIE_RANK[a.cls] !== TIE_RANK[b.cls]) return TIE_RANK[a.cls] > TIE_RANK[b.cls] ? a : b;
  return a.rec.orderKey >= b.rec.orderKey ? a : b;
};

/**
 * Derives the status from the latest event of each class.
 *
 * 1. OFFBOARDED against RECONNECTED: when their times lie within `skewMs` of each other, the RECONNECTED wins
 *    whatever their order (Meta's own example stamps a reconnection one second before the offboarding it ends);
 *    otherwise the later one wins.
 * 2. The winner of step 1 and the other classes: the latest event time wins; ties go to the more restrictive class.
 */
export const deriveStatus = (latest: LatestByClass, skewMs: number = DEFAULT_RECONNECT_SKEW_MS): DerivedStatus => {
  const candidates: Candidate[] = [];
  const off = latest.OFFBOARDED;
  const rec = latest.RECONNECTED;
  if (off && rec) {
    const within = Math.abs(off.eventTimeMs - rec.eventTimeMs) <= skewMs;
    const winner = within || rec.eventTimeMs > off.eventTimeMs ? 'RECONNECTED' : 'OFFBOARDED';
    candidates.push({ cls: winner, rec: winner === 'RECONNECTED' ? rec : off });
  } else if (off) {
    candidates.push({ cls: 'OFFBOARDED', rec: off });
  } else if (rec) {
    candidates.push({ cls: 'RECONNECTED', rec });
  }
  for (const cls of ['CONNECTED', 'REMOVED', 'DELETED', 'DISABLED'] as const) {
    const r = latest[cls];
    if (r) candidates.push({ cls, rec: r });
  }
  const first = candidates[0];
  if (!first) return { status: 'CONNECTED', setBy: null, setByClass: null };
  const winner = candidates.slice(1).reduce(later, first);
  return { status: STATUS_OF_CLASS[winner.cls], setBy: winner.rec, setByClass: winner.cls };
};

export type EventEffect =
  /** The event changed the client's status. */
  | 'status-changed'
  /** The event is now the latest of its class but the status stayed (e.g. a RECONNECTED for a connected client). */
  | 'status-unchanged'
  /** An event of the same class with a later time was already applied: recorded only. */
  | 'older-than-latest'
  /** The exact event was already applied (a redelivery). */
  | 'duplicate'
  /** The event does not decide whether the client may send; recorded only. */
  | 'informational'
  /** The event's time is not a representable time or lies too far after receipt: recorded and forwarded, not applied. */
  | 'rejected-time'
  /** An operator cleared the client's status records (`POST /clients/{wabaId}/reset`). */
  | 'operator-reset';

/** Whether a new event of a class would replace the stored latest of that class. */
export const supersedes = (current: StatusEventRecord | undefined, orderKey: string): boolean =>
  current === undefined || current.orderKey < orderKey;

/**
 * Explains what applying an event did, given the class records before the write and whether the write happened.
 * Used for the timeline; the status itself always comes from {@link deriveStatus}.
 */
export const describeEffect = (
  cls: StatusClass,
  candidate: StatusEventRecord,
  before: LatestByClass,
  skewMs: number,
): { effect: EventEffect; statusBefore: ClientStatus; statusAfter: ClientStatus } => {
  const statusBefore = deriveStatus(before, skewMs).status;
  const current = before[cls];
  if (current && current.orderKey === candidate.orderKey) {
    return { effect: 'duplicate', statusBefore, statusAfter: statusBefore };
  }
  if (!supersedes(current, candidate.orderKey)) {
    return { effect: 'older-than-latest', statusBefore, statusAfter: statusBefore };
  }
  // Object.assign rather than `{ ...before, [cls]: candidate }` (V8's slow path for a spread followed by a key).
  const statusAfter = deriveStatus(Object.assign({}, before, { [cls]: candidate }), skewMs).status;
  return { effect: statusAfter === statusBefore ? 'status-unchanged' : 'status-changed', statusBefore, statusAfter };
};
