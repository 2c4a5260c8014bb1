import { type OffboardedIndex, sweepOffboarded } from '../core/offboarded-sweep.js';
import type { Telemetry } from '../core/ports.js';

/** Scheduled (EventBridge) handler: counts offboarded clients and measures the longest offboarding. */
export const createSweeperHandler =
  (index: OffboardedIndex, telemetry: Telemetry, reconnectSkewMs: number, now: () => number = Date.now) =>
  async (): Promise<{ offboarded: number; longestSeconds: number; unlisted: number }> => {
    const s = await sweepOffboarded(index, telemetry, now(), reconnectSkewMs);
    return { offboarded: s.offboarded, longestSeconds: s.longestSeconds, unlisted: s.stale.length };
  };
