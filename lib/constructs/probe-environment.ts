import type { StageConfig } from '../stage-config.js';

/** The probe settings every function that probes (consumer, sweeper) reads: one place, so they cannot differ. */
export const probeEnvironment = (h: StageConfig['health']): Record<string, string> => ({
  PROBE_INTERVAL_SECONDS: String(h.probeIntervalSeconds),
  PROBE_MAX_INTERVAL_SECONDS: String(h.probeMaxIntervalSeconds),
  PROBE_BUDGET_PERCENT: String(h.probeBudgetPercent),
  PROBE_ENDS_OFFBOARDING: String(h.probeEndsOffboarding),
});
