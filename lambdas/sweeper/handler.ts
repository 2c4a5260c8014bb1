import type { ClientHealthService } from '../core/health/client-health-service.js';
import { type OffboardedIndex, type SweepPolicy, sweepOffboarded } from '../core/health/offboarded-sweep.js';
import type { Telemetry } from '../core/shared/telemetry.js';

/** Scheduled (EventBridge) handler: counts offboarded and held clients, measures the longest offboarding, probes. */
export const createSweeperHandler =
  (index: OffboardedIndex, telemetry: Telemetry, policy: SweepPolicy, now: () => number = Date.now, health?: ClientHealthService) =>
  async (): Promise<{ offboarded: number; held: number; longestSeconds: number; unlisted: number; probed: number }> => {
    const s = await sweepOffboarded(index, telemetry, now(), policy, health);
    return { offboarded: s.offboarded, held: s.held, longestSeconds: s.longestSeconds, unlisted: s.stale.length, probed: s.probed };
  };
