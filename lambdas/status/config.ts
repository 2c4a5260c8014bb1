import * as z from 'zod/mini';
import { DEFAULTS } from '../core/shared/defaults.js';
import { awsEnv, boolFrom, type Env, intFrom, nonEmpty, parseConfig, awsFrom } from '../shared/config.js';

/**
 * The status route (and its operator reset): the table, the skew rule, how long the reset's timeline entry is kept,
 * whether a probe may end an offboarding, the release queue a reset asks for a release on; nothing secret.
 */
export const statusConfigSchema = z.pipe(
  z.object({
    ...awsEnv(),
    RELEASE_QUEUE_URL: nonEmpty,
    RECONNECT_SKEW_SECONDS: intFrom(DEFAULTS.reconnectSkewSeconds, 0, 86_400),
    PROBE_ENDS_OFFBOARDING: boolFrom(DEFAULTS.probeEndsOffboarding),
    HUMAN_REPLY_HOLD_SECONDS: intFrom(DEFAULTS.humanReplyHoldSeconds, 0, 7 * 86_400),
    TIMELINE_RETENTION_DAYS: intFrom(DEFAULTS.timelineRetentionDays, 1, 3650),
  }),
  z.transform((c) => ({
    ...awsFrom(c),
    releaseQueueUrl: c.RELEASE_QUEUE_URL,
    reconnectSkewMs: c.RECONNECT_SKEW_SECONDS * 1000,
    probeEndsOffboarding: c.PROBE_ENDS_OFFBOARDING,
    humanReplyHoldSeconds: c.HUMAN_REPLY_HOLD_SECONDS,
    timelineRetentionDays: c.TIMELINE_RETENTION_DAYS,
  })),
);

export type StatusConfig = z.infer<typeof statusConfigSchema>;

export const loadStatusConfig = (env: Env = process.env): StatusConfig => parseConfig(statusConfigSchema, env, 'status');
