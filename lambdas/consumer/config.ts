import * as z from 'zod/mini';
import { DEFAULTS } from '../core/shared/defaults.js';
import { parseDelaySchedule } from '../core/outbound/park-schedule.js';
import {
  awsEnv,
  type Env,
  graphApiEnv,
  nonEmpty,
  parseConfig,
  probeEnv,
  probePolicyFrom,
  relayEventsEnv,
  relayEventsFrom,
  reporter,
  secretRef,
  sendPolicyEnv,
  withDefault,
  awsFrom,
  graphApiFrom,
} from '../shared/config.js';

/** The outbound and delay queues' consumer: queues, the Cloud API, the park and retry policy, the access tokens. */
export const consumerConfigSchema = z.pipe(
  z.object({
    ...awsEnv(),
    ...relayEventsEnv(),
    DELAY_QUEUE_URL: nonEmpty,
    DEAD_LETTER_QUEUE_URL: nonEmpty,
    RELEASE_QUEUE_URL: nonEmpty,
    ...graphApiEnv(),
    ...probeEnv(),
    PARK_DELAY_SCHEDULE: z.pipe(
      withDefault(DEFAULTS.parkDelaySchedule),
      z.transform((s: string, ctx) => {
        try {
          return parseDelaySchedule(s);
        } catch (error) {
          ctx.issues.push({ code: 'custom', message: error instanceof Error ? error.message : String(error), input: s });
          return [];
        }
      }),
    ),
    ...sendPolicyEnv(),
  }),
  z.transform((c, ctx) => ({
    ...awsFrom(c),
    ...relayEventsFrom(c),
    delayQueueUrl: c.DELAY_QUEUE_URL,
    deadLetterQueueUrl: c.DEAD_LETTER_QUEUE_URL,
    releaseQueueUrl: c.RELEASE_QUEUE_URL,
    ...graphApiFrom(c),
    parkDelaySchedule: c.PARK_DELAY_SCHEDULE,
    maxParkSeconds: c.MAX_PARK_SECONDS,
    maxSendAttempts: c.MAX_SEND_ATTEMPTS,
    humanReplyHoldSeconds: c.HUMAN_REPLY_HOLD_SECONDS,
    reconnectSkewMs: c.RECONNECT_SKEW_SECONDS * 1000,
    sendLedgerRetentionDays: c.SEND_LEDGER_RETENTION_DAYS,
    probe: probePolicyFrom(c),
    /** Default Cloud API token, plus optional per-WABA tokens (see `parseTokenSecret`). */
    accessTokens: secretRef(c, 'WHATSAPP_ACCESS_TOKEN', 'WHATSAPP_ACCESS_TOKEN_SECRET_ID', reporter(ctx, c)),
  })),
);

export type ConsumerConfig = z.infer<typeof consumerConfigSchema>;

export const loadConsumerConfig = (env: Env = process.env): ConsumerConfig => parseConfig(consumerConfigSchema, env, 'consumer');
