import type { HoldRecord, ProbeRecord } from './client-health.js';
import type { ProbeResult } from './probe.js';

/** The ports of client health: holds and probes. */
/** Health evidence on the client's status item. Every write is conditional; none is a read-modify-write. */
export interface ClientHealthStore {
  /**
   * Starts `hold` unless another hold started since the caller read the client (`replacing`: the id of the hold the
   * caller saw, ended, or null when it saw none). True when this call started it.
   */
  tripHold(wabaId: string, hold: HoldRecord, replacing: string | null): Promise<boolean>;
  /** Takes the client's probe turn: true (and the next turn is at `nextProbeAtMs`) unless the turn is not due yet. */
  claimProbe(wabaId: string, nowMs: number, nextProbeAtMs: number): Promise<boolean>;
  /** Records a probe unless a later one is recorded; a can-send probe also moves `canSendAtMs` forward. */
  recordProbe(wabaId: string, probe: ProbeRecord): Promise<boolean>;
}

/** `GET /{version}/{phone-number-id}?fields=...` with the client's token. Never throws. */
export interface PhoneNumberProbe {
  probe(phoneNumberId: string, token: string): Promise<ProbeResult>;
}
