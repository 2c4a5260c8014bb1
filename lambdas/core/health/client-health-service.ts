/**
 * Orchestration of holds and probes over the ports: the consumer trips a hold after a refused send and probes; the
 * sweeper probes held clients on their backoff and clients offboarded for long. Rules live in client-health.ts and
 * probe.ts; this file only sequences them.
 */
import { type ClientGate, type ClientHealth, type HoldRecord, type HoldState, type ProbeReason, type ProbeRecord, refusalCode } from './client-health.js';
import type { CloudApiError } from '../outbound/cloud-api-result.js';
import { minProbeGapSeconds, type ProbePolicy, type ProbeReading, probeBackoffSeconds, readProbe } from './probe.js';
import type { HoldReason } from '../outbound/send-policy.js';
import type { ClientHealthStore, PhoneNumberProbe } from './ports.js';
import type { ReleaseRequester } from '../release/ports.js';
import type { Telemetry } from '../shared/telemetry.js';
import type { TokenProvider } from '../outbound/ports.js';

export interface ClientHealthServiceOptions {
  readonly store: ClientHealthStore;
  readonly api: PhoneNumberProbe;
  readonly tokens: TokenProvider;
  /** Issue 11's release path; without it, parked messages resume at their next delay hop. */
  readonly release?: ReleaseRequester;
  readonly telemetry: Telemetry;
  readonly policy: ProbePolicy & { readonly probeEndsOffboarding: boolean };
  readonly now?: () => number;
}

export interface Refusal {
  /** Why the client cannot send: its number looks disconnected (default), or its token was refused. */
  readonly reason?: HoldReason;
  readonly phoneNumberId: string;
  readonly messageId: string;
  readonly error: CloudApiError | null;
  readonly why: string;
}

export interface ProbeOutcome {
  readonly reading: ProbeReading;
  /** The probe ended a hold the relay had set. */
  readonly endedHold: boolean;
  /** Release of the parked messages was asked for. */
  readonly released: boolean;
}

export class ClientHealthService {
  readonly #o: ClientHealthServiceOptions & { now: () => number };

  constructor(options: ClientHealthServiceOptions) {
    this.#o = { now: Date.now, ...options };
  }

  /**
   * A send was refused with an answer that may mean the number is not connected: hold the client at once. `seen` is
   * the hold state the caller read with the client (a hold in force is never replaced). Returns the hold when this
   * call started it, or null when another worker had already started one (the same episode).
   */
  async tripHold(wabaId: string, seen: HoldState, refusal: Refusal): Promise<HoldRecord | null> {
    const { store, telemetry } = this.#o;
    const startedAtMs = this.#o.now();
    const hold: HoldRecord = {
      holdId: `${startedAtMs}#${refusal.messageId}`.slice(0, 200),
      startedAtMs,
      code: refusalCode(refusal.error?.code, refusal.error?.subcode),
      why: refusal.why.slice(0, 300),
      phoneNumberId: refusal.phoneNumberId,
      messageId: refusal.messageId,
      ...(refusal.reason === 'token-invalid' ? { reason: 'token-invalid' as const } : {}),
    };
    const started = await store.tripHold(wabaId, hold, seen.state === 'none' ? null : seen.hold.holdId);
    if (!started) {
      telemetry.info('client already held by another worker', { wabaId, messageId: refusal.messageId });
      return null;
    }
    telemetry.count('HoldsStarted');
    // The token, not the number: a person must replace it (the TokenInvalidHolds alarm); the hold's probes use the
    // token too, so the hold ends as soon as a probe with the new token answers.
    if (hold.reason === 'token-invalid') telemetry.count('TokenInvalidHolds');
    telemetry.warn(hold.reason === 'token-invalid' ? 'client held: the Cloud API refused its access token' : 'client held: the Cloud API refused a send as if the number were not connected', {
      wabaId,
      messageId: refusal.messageId,
      phoneNumberId: refusal.phoneNumberId,
      code: hold.code,
    });
    return hold;
  }

  /**
   * Probes the client's number if its turn has come (at most one probe per client per interval, enforced by a
   * conditional write). A can-send answer ends a hold in force and asks for the parked messages to be released; it ends
   * a webhook-set OFFBOARDED only when the policy says so. Returns null when it was not this caller's turn.
   */
  async probe(
    wabaId: string,
    phoneNumberId: string,
    reason: ProbeReason,
    before: { readonly gate: Pick<ClientGate, 'hold' | 'derived'>; readonly health: ClientHealth },
  ): Promise<ProbeOutcome | null> {
    const { store, telemetry, policy } = this.#o;
    const nowMs = this.#o.now();
    const due = before.health.nextProbeAtMs;
    if (due !== undefined && due > nowMs) return null;
    const waitSeconds =
      reason === 'stale-offboarding'
        ? Math.max(policy.maxIntervalSeconds, minProbeGapSeconds(policy))
        : probeBackoffSeconds(policy, reason === 'hold-started' ? 0 : (before.health.probeAttempt ?? 0));
    if (!(await store.claimProbe(wabaId, nowMs, nowMs + waitSeconds * 1000))) return null;

    let reading: ProbeReading;
    try {
      const token = await this.#o.tokens.tokenFor(wabaId);
      reading = readProbe(await this.#o.api.probe(phoneNumberId, token));
    } catch (error) {
      reading = { verdict: 'error', detail: `no token: ${String(error).slice(0, 120)}` };
    }
    const record: ProbeRecord = { atMs: this.#o.now(), verdict: reading.verdict, detail: reading.detail, phoneNumberId, reason };
    await store.recordProbe(wabaId, record);
    telemetry.count('Probes', 1, { verdict: reading.verdict });
    const log = { wabaId, phoneNumberId, reason, verdict: reading.verdict, detail: reading.detail };
    if (reading.verdict !== 'can-send') {
      telemetry.info('probe: the number is not shown able to send; nothing changes', log);
      return { reading, endedHold: false, released: false };
    }
    const hold = before.gate.hold;
    const endedHold = hold.state === 'in-force' && hold.hold.startedAtMs < record.atMs;
    const endsOffboarding = policy.probeEndsOffboarding && before.gate.derived.status === 'OFFBOARDED';
    if (endedHold) telemetry.count('HoldsEnded', 1, { by: 'probe' });
    telemetry.info(endedHold ? 'probe: the number can send; hold ended' : 'probe: the number can send', { ...log, endsOffboarding });
    const release = this.#o.release;
    if ((endedHold || endsOffboarding) && release) {
      await release.requestRelease(wabaId, 'probe-can-send');
      return { reading, endedHold, released: true };
    }
    return { reading, endedHold, released: false };
  }
}
