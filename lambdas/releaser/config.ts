import * as z from 'zod/mini';
import { DEFAULTS } from '../core/shared/defaults.js';
import { awsEnv, type Env, graphApiEnv, intFrom, nonEmpty, parseConfig, probeEnv, probePolicyFrom, relayEventsEnv, relayEventsFrom, reporter, secretRef, sendPolicyEnv, awsFrom, graphApiFrom } from '../shared/config.js';

/** The release queue's consumer: the table, the queues it writes to, the Cloud API and its tokens, the pace, probes. */
export const releaserConfigSchema = z.pipe(
  z.object({
    ...awsEnv(),
    ...relayEventsEnv(),
    RELEASE_QUEUE_URL: nonEmpty,
    DEAD_LETTER_QUEUE_URL: nonEmpty,
    ...graphApiEnv(),
    ...probeEnv(),
    ...sendPolicyEnv(),
    RELEASE_RATE_PER_SECOND: intFrom(DEFAULTS.releaseRatePerSecond, 1, 80),
  }),
  z.transform((c, ctx) => ({
    ...awsFrom(c),
    ...relayEventsFrom(c),
    releaseQueueUrl: c.RELEASE_QUEUE_URL,
    deadLetterQueueUrl: c.DEAD_LETTER_QUEUE_URL,
    ...graphApiFrom(c),
    maxParkSeconds: c.MAX_PARK_SECONDS,
    maxSendAttempts: c.MAX_SEND_ATTEMPTS,
    humanReplyHoldSeconds: c.HUMAN_REPLY_HOLD_SECONDS,
    reconnectSkewMs: c.RECONNECT_SKEW_SECONDS * 1000,
    sendLedgerRetentionDays: c.SEND_LEDGER_RETENTION_DAYS,
    releaseRatePerSecond: c.RELEASE_RATE_PER_SECOND,
    /** A refused send holds the client and probes it, as in the consumer; the gate reads a probe as the consumer does. */
    probe: probePolicyFrom(c),
    accessTokens: secretRef(c, 'WHATSAPP_ACCESS_TOKEN', 'WHATSAPP_ACCESS_TOKEN_SECRET_ID', reporter(ctx, c)),
  })),
);

export type ReleaserConfig = z.infer<typeof releaserConfigSchema>;

export const loadReleaserConfig = (env: Env = process.env): ReleaserConfig => parseConfig(releaserConfigSchema, env, 'releaser');
