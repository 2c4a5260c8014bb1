import * as z from 'zod/mini';
import { DEFAULTS } from '../core/shared/defaults.js';
import {
  awsEnv,
  type Env,
  graphApiEnv,
  intFrom,
  nonEmpty,
  optionalNonEmpty,
  parseConfig,
  probeEnv,
  probePolicyFrom,
  reporter,
  secretRef,
  awsFrom,
  graphApiFrom,
} from '../shared/config.js';

/**
 * The sweeper: the table and the skew rule (like the status route), and what probing needs: the Cloud API, the access
 * tokens, the probe policy, when an offboarding counts as long and how many probes one run may make, and the release
 * queue (a can-send probe releases the client's parked messages).
 */
export const sweeperConfigSchema = z.pipe(
  z.object({
    ...awsEnv(),
    ...graphApiEnv(),
    ...probeEnv(),
    RELEASE_QUEUE_URL: nonEmpty,
    RECONNECT_SKEW_SECONDS: intFrom(DEFAULTS.reconnectSkewSeconds, 0, 86_400),
    STALE_OFFBOARDING_SECONDS: intFrom(DEFAULTS.staleOffboardingSeconds, 60, 14 * 86_400),
    SWEEPER_PROBES_PER_RUN: intFrom(DEFAULTS.sweeperProbesPerRun, 0, 1000),
    WHATSAPP_ACCESS_TOKEN: optionalNonEmpty,
    WHATSAPP_ACCESS_TOKEN_SECRET_ID: optionalNonEmpty,
  }),
  z.transform((c, ctx) => ({
    ...awsFrom(c),
    releaseQueueUrl: c.RELEASE_QUEUE_URL,
    reconnectSkewMs: c.RECONNECT_SKEW_SECONDS * 1000,
    ...graphApiFrom(c),
    probe: probePolicyFrom(c),
    staleOffboardingSeconds: c.STALE_OFFBOARDING_SECONDS,
    probesPerRun: c.SWEEPER_PROBES_PER_RUN,
    accessTokens: secretRef(c, 'WHATSAPP_ACCESS_TOKEN', 'WHATSAPP_ACCESS_TOKEN_SECRET_ID', reporter(ctx, c)),
  })),
);

export type SweeperConfig = z.infer<typeof sweeperConfigSchema>;

export const loadSweeperConfig = (env: Env = process.env): SweeperConfig => parseConfig(sweeperConfigSchema, env, 'sweeper');
