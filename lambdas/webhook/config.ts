import * as z from 'zod/mini';
import { DEFAULTS } from '../core/shared/defaults.js';
import { awsEnv, type Env, intFrom, nonEmpty, optionalNonEmpty, parseConfig, relayEventsEnv, relayEventsFrom, reporter, secretRef, awsFrom } from '../shared/config.js';

/** `GET/POST /webhook`: the table, the inbound-events queue, the skew rule, the app secret and verify token. */
export const webhookConfigSchema = z.pipe(
  z.object({
    ...awsEnv(),
    ...relayEventsEnv(),
    INBOUND_EVENTS_QUEUE_URL: nonEmpty,
    RELEASE_QUEUE_URL: nonEmpty,
    /** The bucket where a change too large for one SQS message goes whole (`valueRef`). */
    INBOUND_BUCKET_NAME: nonEmpty,
    /** A local S3 emulator (requests go path-style to it); unset in AWS. */
    AWS_ENDPOINT_URL_S3: optionalNonEmpty,
    /** Where a fallback goes when a sent message fails because the window closed (unset: no fallback is sent). */
    OUTBOUND_QUEUE_URL: optionalNonEmpty,
    SEND_LEDGER_RETENTION_DAYS: intFrom(DEFAULTS.sendLedgerRetentionDays, 1, 365),
    RECONNECT_SKEW_SECONDS: intFrom(DEFAULTS.reconnectSkewSeconds, 0, 86_400),
    TIMELINE_RETENTION_DAYS: intFrom(DEFAULTS.timelineRetentionDays, 1, 3650),
    META_APP_SECRET: optionalNonEmpty,
    META_APP_SECRET_ID: optionalNonEmpty,
    WEBHOOK_VERIFY_TOKEN: optionalNonEmpty,
    WEBHOOK_VERIFY_TOKEN_SECRET_ID: optionalNonEmpty,
  }),
  z.transform((c, ctx) => {
    const report = reporter(ctx, c);
    return {
      ...awsFrom(c),
      ...relayEventsFrom(c),
      inboundEventsQueueUrl: c.INBOUND_EVENTS_QUEUE_URL,
      releaseQueueUrl: c.RELEASE_QUEUE_URL,
      inboundBucketName: c.INBOUND_BUCKET_NAME,
      s3Endpoint: c.AWS_ENDPOINT_URL_S3,
      outboundQueueUrl: c.OUTBOUND_QUEUE_URL,
      sendLedgerRetentionDays: c.SEND_LEDGER_RETENTION_DAYS,
      reconnectSkewMs: c.RECONNECT_SKEW_SECONDS * 1000,
      timelineRetentionDays: c.TIMELINE_RETENTION_DAYS,
      appSecret: secretRef(c, 'META_APP_SECRET', 'META_APP_SECRET_ID', report),
      verifyToken: secretRef(c, 'WEBHOOK_VERIFY_TOKEN', 'WEBHOOK_VERIFY_TOKEN_SECRET_ID', report),
    };
  }),
);

export type WebhookConfig = z.infer<typeof webhookConfigSchema>;

export const loadWebhookConfig = (env: Env = process.env): WebhookConfig => parseConfig(webhookConfigSchema, env, 'webhook');
