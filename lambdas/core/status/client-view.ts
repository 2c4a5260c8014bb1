import { clientGate, disableWarningInForce, type ProbeReason, type ProbeVerdict } from '../health/client-health.js';
import { type ClientStatus, type DisconnectionInfo, STATUS_CLASSES } from './client-status.js';
import { NotFoundError } from '../shared/errors.js';
import { safeIso } from './event-time.js';
import type { ClientRecord, ClientStore, TimelineEntry } from './ports.js';

/** The JSON answered by `GET /clients/{wabaId}`. */
export interface ClientView {
  readonly wabaId: string;
  readonly status: ClientStatus;
  /** When the relay applied the event that set the status (null: no status event yet, treated as CONNECTED). */
  readonly since: string | null;
  /** `eventTime` is null only for a stored time no date can show (written before event times were checked). */
  readonly setBy: { readonly event: string; readonly eventTime: string | null; readonly eventId: string } | null;
  readonly disconnection: DisconnectionInfo | null;
  readonly firstSeenAt: string;
  readonly latestByClass: Readonly<Record<string, { event: string; eventTime: string | null }>>;
  readonly messages: {
    /** Messages parked since the client was first seen (a running total). */
    readonly parked: number;
    /** Messages waiting now (their parked copies). */
    readonly parkedNow: number;
    readonly sent: number;
    readonly deadLettered: number;
    readonly ambiguousResends: number;
    readonly oldestParkedAgeSeconds: number | null;
  };
  /** Whether a release is draining the client's parked messages now, and the last release. */
  readonly release: {
    readonly draining: boolean;
    readonly last: {
      readonly state: string;
      readonly trigger: string;
      readonly startedAt: string;
      readonly finishedAt: string | null;
      readonly total: number;
      readonly sent: number;
      readonly deadLettered: number;
      readonly alreadySent: number;
      readonly left: number;
      readonly reason: string | null;
    } | null;
  };
  /** What the relay knows beyond Meta's status events: its own hold, the latest probe, restrictions, warnings. */
  readonly health: ClientHealthView;
  readonly timeline: readonly {
    readonly event: string;
    readonly eventTime: string | null;
    readonly receivedAt: string;
    readonly effect: string;
    readonly statusBefore: ClientStatus;
    readonly statusAfter: ClientStatus;
    readonly detail?: Readonly<Record<string, unknown>>;
  }[];
}

export interface ClientHealthView {
  /** `held`: the relay parks every message without calling the Cloud API (it was refused as if not connected). */
  readonly hold:
    | {
        readonly state: 'in-force' | 'ended';
        /** `not-connected`: the number looked disconnected; `token-invalid`: the Cloud API refused the client's token. */
        readonly reason: 'not-connected' | 'token-invalid';
        readonly startedAt: string | null;
        readonly code: string;
        readonly why: string;
        readonly phoneNumberId: string;
        readonly endedBy?: 'status-event' | 'probe';
        readonly endedAt?: string | null;
      }
    | null;
  readonly lastProbe: {
    readonly at: string | null;
    readonly verdict: ProbeVerdict;
    readonly detail: string;
    readonly phoneNumberId: string;
    readonly reason: ProbeReason;
  } | null;
  readonly nextProbeAt: string | null;
  /** True when the stage lets a probe end a webhook-set OFFBOARDED and one did: messages are sent. */
  readonly offboardingEndedByProbe: boolean;
  readonly restrictions: readonly { readonly type: string; readonly expiration: string | null; readonly inForce: boolean }[];
  readonly warnings: readonly { readonly warning: 'scheduled-for-disable'; readonly eventTime: string | null; readonly banDate: string | null }[];
}

const iso = safeIso;

const ageSeconds = (since: string | null, nowMs: number): number | null => {
  const t = since === null ? Number.NaN : Date.parse(since);
  return Number.isNaN(t) ? null : Math.max(0, Math.round((nowMs - t) / 1000));
};

const toClientView = (
  client: ClientRecord,
  timeline: readonly TimelineEntry[],
  skewMs: number,
  nowMs: number,
  parkedNow: { readonly count: number; readonly oldestParkedAt: string | null } = { count: 0, oldestParkedAt: null },
  probeEndsOffboarding = false,
): ClientView => {
  const gate = clientGate(client.latest, client.health, nowMs, { reconnectSkewMs: skewMs, probeEndsOffboarding });
  const derived = gate.derived;
  const h = client.health;
  const hold = gate.hold;
  const warning = disableWarningInForce(h.disableWarning, client.latest);
  const health: ClientHealthView = {
    hold:
      hold.state === 'none'
        ? null
        : {
            state: hold.state,
            reason: hold.hold.reason ?? 'not-connected',
            startedAt: iso(hold.hold.startedAtMs),
            code: hold.hold.code,
            why: hold.hold.why,
            phoneNumberId: hold.hold.phoneNumberId,
            ...(hold.state === 'ended' ? { endedBy: hold.endedBy, endedAt: iso(hold.endedAtMs) } : {}),
          },
    lastProbe: h.probe
      ? { at: iso(h.probe.atMs), verdict: h.probe.verdict, detail: h.probe.detail, phoneNumberId: h.probe.phoneNumberId, reason: h.probe.reason }
      : null,
    nextProbeAt: h.nextProbeAtMs === undefined ? null : iso(h.nextProbeAtMs),
    offboardingEndedByProbe: gate.offboardingEndedByProbe,
    restrictions: (h.restriction?.restrictions ?? []).map((r) => ({
      type: r.type,
      expiration: r.expiresAtMs === null ? null : iso(r.expiresAtMs),
      inForce: r.expiresAtMs === null || r.expiresAtMs > nowMs,
    })),
    warnings: warning ? [{ warning: 'scheduled-for-disable', eventTime: iso(warning.eventTimeMs), banDate: warning.banDate ?? null }] : [],
  };
  const latestByClass: Record<string, { event: string; eventTime: string | null }> = {};
  for (const cls of STATUS_CLASSES) {
    const r = client.latest[cls];
    if (r) latestByClass[cls] = { event: r.event, eventTime: iso(r.eventTimeMs) };
  }
  const removed = client.latest.REMOVED;
  return {
    wabaId: client.wabaId,
    status: derived.status,
    since: derived.setBy?.appliedAt ?? null,
    setBy: derived.setBy
      ? { event: derived.setBy.event, eventTime: iso(derived.setBy.eventTimeMs), eventId: derived.setBy.eventId }
      : null,
    disconnection: derived.status === 'REMOVED' && removed?.disconnection ? removed.disconnection : null,
    firstSeenAt: client.firstSeenAt,
    latestByClass,
    messages: {
      ...client.counters,
      parkedNow: parkedNow.count,
      oldestParkedAgeSeconds: ageSeconds(parkedNow.oldestParkedAt, nowMs),
    },
    release: {
      draining: client.release.drainSince !== null,
      last: client.release.last
        ? {
            state: client.release.last.state,
            trigger: client.release.last.trigger,
            startedAt: client.release.last.startedAt,
            finishedAt: client.release.last.finishedAt ?? null,
            total: client.release.last.total,
            sent: client.release.last.sent,
            deadLettered: client.release.last.deadLettered,
            alreadySent: client.release.last.alreadySent,
            left: client.release.last.left,
            reason: client.release.last.reason ?? null,
          }
        : null,
    },
    health,
    timeline: timeline.map((e) => ({
      event: e.event,
      eventTime: iso(e.eventTimeMs),
      receivedAt: e.receivedAt,
      effect: e.effect,
      statusBefore: e.statusBefore,
      statusAfter: e.statusAfter,
      ...(e.detail ? { detail: e.detail } : {}),
    })),
  };
};

/** `GET /clients/{wabaId}`: two key lookups and two short queries, never a scan. */
export const readClientView = async (
  store: Pick<ClientStore, 'getClient' | 'listTimeline' | 'parkedNow'>,
  wabaId: string,
  options: { readonly skewMs: number; readonly nowMs: number; readonly timelineLimit?: number; readonly probeEndsOffboarding?: boolean },
): Promise<ClientView> => {
  const [client, timeline, oldest] = await Promise.all([
    store.getClient(wabaId),
    store.listTimeline(wabaId, options.timelineLimit ?? 20),
    store.parkedNow(wabaId),
  ]);
  if (!client) throw new NotFoundError(`no events received for WABA ${wabaId}`);
  return toClientView(client, timeline, options.skewMs, options.nowMs, oldest, options.probeEndsOffboarding ?? false);
};
