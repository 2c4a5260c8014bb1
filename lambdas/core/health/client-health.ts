/**
 * Client health: what the relay knows about a client beyond its status, as evidence kept beside the status records
 * on the same item, and what it means for outbound messages. Pure functions over plain values, no I/O.
 *
 * - A **hold** is the relay's own evidence: a send was refused with an answer that may mean the number is not
 *   connected (133010, 131045, ...). While a hold is in force the client's messages park without calling the Cloud API.
 *   It is never an event from Meta and never outlives newer evidence: it ends when a status event from Meta stamped
 *   after it arrives, or when a probe after it says the number can send. Both are derived on read by comparing
 *   times, like the status itself, so the answer does not depend on the order in which evidence arrived.
 * - A **restriction** is the latest ACCOUNT_RESTRICTION (by event time); each restriction type is in force until its
 *   `expiration`, judged at read time.
 * - A **disable warning** is the latest DISABLED_UPDATE with SCHEDULE_FOR_DISABLE not followed by a DISABLE or REINSTATE.
 */
import type { ClientStatus, DerivedStatus, LatestByClass } from '../status/client-status.js';
import { deriveStatus, STATUS_CLASSES } from '../status/client-status.js';

/** The relay's evidence that a client's number cannot send: the first refused send of an episode. */
export interface HoldRecord {
  /** Unique per hold: replacing a hold is a compare-and-swap on this id. */
  readonly holdId: string;
  /** Relay clock, ms. */
  readonly startedAtMs: number;
  /** Meta's error code, `code` or `code/subcode`. */
  readonly code: string;
  /** Meta's message (truncated). */
  readonly why: string;
  /** The number whose send was refused: the one to probe. */
  readonly phoneNumberId: string;
  /** The message whose send was refused. */
  readonly messageId: string;
  /** `token-invalid` when the Cloud API refused the client's token (190 and kin); absent: the number looked disconnected. */
  readonly reason?: 'token-invalid';
}

export const PROBE_VERDICTS = ['can-send', 'cannot-send', 'unclear', 'error'] as const;
export type ProbeVerdict = (typeof PROBE_VERDICTS)[number];

/** One probe of a phone number (`GET /{phone-number-id}?fields=...`). */
export interface ProbeRecord {
  readonly atMs: number;
  readonly verdict: ProbeVerdict;
  readonly detail: string;
  readonly phoneNumberId: string;
  /** Why the probe ran. */
  readonly reason: ProbeReason;
}

export type ProbeReason = 'hold-started' | 'hold-backoff' | 'stale-offboarding';

export const RESTRICTION_TYPES = {
  bizInitiated: 'RESTRICTED_BIZ_INITIATED_MESSAGING',
  customerInitiated: 'RESTRICTED_CUSTOMER_INITIATED_MESSAGING',
} as const;

/** The latest ACCOUNT_RESTRICTION event of a client. */
export interface RestrictionRecord {
  readonly orderKey: string;
  readonly eventId: string;
  readonly eventTimeMs: number;
  readonly appliedAt: string;
  /** Every `restriction_info[]` entry; `expiresAtMs` null when Meta gave no usable expiration. */
  readonly restrictions: readonly { readonly type: string; readonly expiresAtMs: number | null }[];
}

/** The latest DISABLED_UPDATE with SCHEDULE_FOR_DISABLE of a client. */
export interface DisableWarningRecord {
  readonly orderKey: string;
  readonly eventId: string;
  readonly eventTimeMs: number;
  readonly appliedAt: string;
  /** `ban_info.waba_ban_date`, free text from Meta. */
  readonly banDate?: string;
}

/** Everything on the client's status item besides the status records and counters. */
export interface ClientHealth {
  readonly hold?: HoldRecord;
  /** The latest probe, whatever it said. */
  readonly probe?: ProbeRecord;
  /** Time of the latest probe that said the number can send (only ever grows). */
  readonly canSendAtMs?: number;
  /** No probe for this client before this time (relay clock, ms). */
  readonly nextProbeAtMs?: number;
  /** Probes since the current hold started: the backoff exponent. */
  readonly probeAttempt?: number;
  readonly restriction?: RestrictionRecord;
  readonly disableWarning?: DisableWarningRecord;
}

export type HoldState =
  | { readonly state: 'none' }
  | { readonly state: 'in-force'; readonly hold: HoldRecord }
  | { readonly state: 'ended'; readonly hold: HoldRecord; readonly endedBy: 'status-event' | 'probe'; readonly endedAtMs: number };

/** The latest status event time among the class records (Meta's clock), or null. */
const latestEventTimeMs = (latest: LatestByClass): number | null => {
  let max: number | null = null;
  for (const cls of STATUS_CLASSES) {
    const r = latest[cls];
    if (r && (max === null || r.eventTimeMs > max)) max = r.eventTimeMs;
  }
  return max;
};

/**
 * Is the hold in force? It ends with a status event from Meta stamped after it started, or a can-send probe after it
 * started. Both inputs only ever grow, so once ended a hold stays ended: a new refusal starts a new hold.
 */
export const holdState = (health: ClientHealth, latest: LatestByClass): HoldState => {
  const hold = health.hold;
  if (!hold) return { state: 'none' };
  const eventMs = latestEventTimeMs(latest);
  const byEvent = eventMs !== null && eventMs > hold.startedAtMs ? eventMs : null;
  const byProbe = health.canSendAtMs !== undefined && health.canSendAtMs > hold.startedAtMs ? health.canSendAtMs : null;
  if (byEvent === null && byProbe === null) return { state: 'in-force', hold };
  // Whichever evidence came first (by its own time) ended it.
  if (byProbe !== null && (byEvent === null || byProbe <= byEvent)) {
    return { state: 'ended', hold, endedBy: 'probe', endedAtMs: byProbe };
  }
  return { state: 'ended', hold, endedBy: 'status-event', endedAtMs: byEvent as number };
};

export interface RestrictionsInForce {
  /** Template messages park until this time (ms); null when not restricted. */
  readonly templatesUntilMs: number | null;
  /** Non-template messages park until this time (ms); null when not restricted. */
  readonly nonTemplatesUntilMs: number | null;
}

/** Which restrictions are in force at `nowMs`. A restriction without a usable expiration stays in force. */
export const restrictionsInForce = (restriction: RestrictionRecord | undefined, nowMs: number): RestrictionsInForce => {
  let templates: number | null = null;
  let nonTemplates: number | null = null;
  const until = (r: { expiresAtMs: number | null }): number | null =>
    r.expiresAtMs === null ? Number.POSITIVE_INFINITY : r.expiresAtMs > nowMs ? r.expiresAtMs : null;
  const latest = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.max(a, b));
  for (const r of restriction?.restrictions ?? []) {
    if (r.type === RESTRICTION_TYPES.bizInitiated) templates = latest(templates, until(r));
    if (r.type === RESTRICTION_TYPES.customerInitiated) nonTemplates = latest(nonTemplates, until(r));
  }
  return { templatesUntilMs: templates, nonTemplatesUntilMs: nonTemplates };
};

/** A scheduled disable not yet followed by a DISABLE or a REINSTATE. */
export const disableWarningInForce = (warning: DisableWarningRecord | undefined, latest: LatestByClass): DisableWarningRecord | null => {
  if (!warning) return null;
  const disabled = latest.DISABLED?.eventTimeMs ?? Number.NEGATIVE_INFINITY;
  const connected = latest.CONNECTED;
  const reinstated = connected?.banState === 'REINSTATE' ? connected.eventTimeMs : Number.NEGATIVE_INFINITY;
  return warning.eventTimeMs > disabled && warning.eventTimeMs > reinstated ? warning : null;
};

export interface HealthPolicy {
  readonly reconnectSkewMs: number;
  /** A can-send probe after a webhook-set OFFBOARDED reads as CONNECTED (relies on undocumented behaviour). */
  readonly probeEndsOffboarding: boolean;
}

/** What the outbound side needs to know about a client, derived on read. */
export interface ClientGate {
  /** The status to act on: the derived status, or CONNECTED when a probe ended an offboarding (policy permitting). */
  readonly status: ClientStatus;
  readonly derived: DerivedStatus;
  readonly hold: HoldState;
  readonly restrictions: RestrictionsInForce;
  /** True when a can-send probe later than the offboarding made `status` CONNECTED. */
  readonly offboardingEndedByProbe: boolean;
}

export const clientGate = (latest: LatestByClass, health: ClientHealth, nowMs: number, policy: HealthPolicy): ClientGate => {
  const derived = deriveStatus(latest, policy.reconnectSkewMs);
  const endedByProbe =
    policy.probeEndsOffboarding &&
    derived.status === 'OFFBOARDED' &&
    derived.setBy !== null &&
    health.canSendAtMs !== undefined &&
    health.canSendAtMs > derived.setBy.eventTimeMs;
  return {
    status: endedByProbe ? 'CONNECTED' : derived.status,
    derived,
    hold: holdState(health, latest),
    restrictions: restrictionsInForce(health.restriction, nowMs),
    offboardingEndedByProbe: endedByProbe,
  };
};

/** Template messages open business-initiated conversations; everything else is a reply. */
export const isTemplate = (payload: Readonly<Record<string, unknown>>): boolean => payload.type === 'template';

/** The code of a refusal as stored on a hold: `133010`, or `100/33`. */
export const refusalCode = (code: number | undefined, subcode: number | undefined): string =>
  code === undefined ? 'unknown' : subcode === undefined ? String(code) : `${code}/${subcode}`;
