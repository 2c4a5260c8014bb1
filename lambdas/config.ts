import * as z from 'zod/mini';
import { ConfigError } from './core/errors.js';
import { DEFAULT_MAX_PARK_SECONDS, DEFAULT_PARK_DELAY_SCHEDULE, parseDelaySchedule } from './core/park-schedule.js';
import { describeIssues } from './core/zod.js';

/**
 * One zod schema per function, parsed once at cold start: a missing or malformed value fails the start,
 * never a request. Secret values are never read from here in AWS: only the ids of Secrets Manager secrets.
 */
type Env = Readonly<Record<string, string | undefined>>;

const nonEmpty = z.string().check(z.trim(), z.minLength(1));
const optionalNonEmpty = z.optional(
  z.pipe(
    z.string().check(z.trim()),
    z.transform((s: string) => (s.length === 0 ? undefined : s)),
  ),
);
const withDefault = (def: string) =>
  z.pipe(
    z.optional(z.string()),
    z.transform((s: string | undefined) => (s === undefined || s.trim() === '' ? def : s.trim())),
  );
const intFrom = (def: number, min: number, max: number) =>
  z.pipe(
    z.optional(z.string()),
    z.transform((s: string | undefined, ctx) => {
      if (s === undefined || s.trim() === '') return def;
      const n = Number(s);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.issues.push({ code: 'custom', message: `must be an integer from ${min} to ${max}`, input: s });
        return def;
      }
      return n;
    }),
  );

const aws = {
  AWS_REGION: withDefault('us-east-1'),
  AWS_ENDPOINT_URL_DYNAMODB: optionalNonEmpty,
  AWS_ENDPOINT_URL_SQS: optionalNonEmpty,
  TABLE_NAME: nonEmpty,
};

/** A secret comes either as a value (local) or as a Secrets Manager id (AWS); exactly one must be set. */
export type SecretRef = { readonly value: string } | { readonly secretId: string };

const secretRef = (env: Env, valueName: string, idName: string, required: boolean): SecretRef | undefined => {
  const value = env[valueName]?.trim();
  const secretId = env[idName]?.trim();
  if (value && secretId) throw new ConfigError(`set either ${valueName} or ${idName}, not both`);
  if (value) return { value };
  if (secretId) return { secretId };
  if (required) throw new ConfigError(`${valueName} (or ${idName}) is required`);
  return undefined;
};

const parse = <S extends z.ZodMiniType>(schema: S, env: Env, fn: string): z.infer<S> => {
  const r = schema.safeParse(env);
  if (!r.success) throw new ConfigError(`invalid ${fn} configuration: ${describeIssues(r.error, 10)}`);
  return r.data as z.infer<S>;
};

const webhookSchema = z.object({
  ...aws,
  INBOUND_EVENTS_QUEUE_URL: nonEmpty,
  RECONNECT_SKEW_SECONDS: intFrom(300, 0, 86_400),
  TIMELINE_RETENTION_DAYS: intFrom(30, 1, 3650),
});

export interface WebhookConfig {
  readonly region: string;
  readonly dynamodbEndpoint: string | undefined;
  readonly sqsEndpoint: string | undefined;
  readonly tableName: string;
  readonly inboundEventsQueueUrl: string;
  readonly reconnectSkewMs: number;
  readonly timelineRetentionDays: number;
  readonly appSecret: SecretRef;
  readonly verifyToken: SecretRef;
}

export const loadWebhookConfig = (env: Env = process.env): WebhookConfig => {
  const c = parse(webhookSchema, env, 'webhook');
  return {
    region: c.AWS_REGION,
    dynamodbEndpoint: c.AWS_ENDPOINT_URL_DYNAMODB,
    sqsEndpoint: c.AWS_ENDPOINT_URL_SQS,
    tableName: c.TABLE_NAME,
    inboundEventsQueueUrl: c.INBOUND_EVENTS_QUEUE_URL,
    reconnectSkewMs: c.RECONNECT_SKEW_SECONDS * 1000,
    timelineRetentionDays: c.TIMELINE_RETENTION_DAYS,
    appSecret: secretRef(env, 'META_APP_SECRET', 'META_APP_SECRET_ID', true) as SecretRef,
    verifyToken: secretRef(env, 'WEBHOOK_VERIFY_TOKEN', 'WEBHOOK_VERIFY_TOKEN_SECRET_ID', true) as SecretRef,
  };
};

const consumerSchema = z.object({
  ...aws,
  DELAY_QUEUE_URL: nonEmpty,
  DEAD_LETTER_QUEUE_URL: nonEmpty,
  GRAPH_API_BASE_URL: z.pipe(withDefault('https://graph.facebook.com'), z.url({ protocol: /^https?$/ })),
  GRAPH_API_VERSION: z.pipe(withDefault('v25.0'), z.string().check(z.regex(/^v\d+\.\d+$/, 'must look like v25.0'))),
  GRAPH_API_TIMEOUT_MS: intFrom(10_000, 100, 60_000),
  PARK_DELAY_SCHEDULE: z.pipe(
    withDefault(DEFAULT_PARK_DELAY_SCHEDULE),
    z.transform((s: string, ctx) => {
      try {
        return parseDelaySchedule(s);
      } catch (error) {
        ctx.issues.push({ code: 'custom', message: (error as Error).message, input: s });
        return [];
      }
    }),
  ),
  MAX_PARK_SECONDS: intFrom(DEFAULT_MAX_PARK_SECONDS, 60, 14 * 86_400),
  MAX_SEND_ATTEMPTS: intFrom(8, 1, 100),
  RECONNECT_SKEW_SECONDS: intFrom(300, 0, 86_400),
  SEND_LEDGER_RETENTION_DAYS: intFrom(15, 1, 365),
});

export interface ConsumerConfig {
  readonly region: string;
  readonly dynamodbEndpoint: string | undefined;
  readonly sqsEndpoint: string | undefined;
  readonly tableName: string;
  readonly delayQueueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly graphApiBaseUrl: string;
  readonly graphApiVersion: string;
  readonly graphApiTimeoutMs: number;
  readonly parkDelaySchedule: readonly number[];
  readonly maxParkSeconds: number;
  readonly maxSendAttempts: number;
  readonly reconnectSkewMs: number;
  readonly sendLedgerRetentionDays: number;
  /** Default Cloud API token, plus optional per-WABA tokens (see `parseTokenSecret`). */
  readonly accessTokens: SecretRef;
}

export const loadConsumerConfig = (env: Env = process.env): ConsumerConfig => {
  const c = parse(consumerSchema, env, 'consumer');
  return {
    region: c.AWS_REGION,
    dynamodbEndpoint: c.AWS_ENDPOINT_URL_DYNAMODB,
    sqsEndpoint: c.AWS_ENDPOINT_URL_SQS,
    tableName: c.TABLE_NAME,
    delayQueueUrl: c.DELAY_QUEUE_URL,
    deadLetterQueueUrl: c.DEAD_LETTER_QUEUE_URL,
    graphApiBaseUrl: c.GRAPH_API_BASE_URL.replace(/\/+$/, ''),
    graphApiVersion: c.GRAPH_API_VERSION,
    graphApiTimeoutMs: c.GRAPH_API_TIMEOUT_MS,
    parkDelaySchedule: c.PARK_DELAY_SCHEDULE,
    maxParkSeconds: c.MAX_PARK_SECONDS,
    maxSendAttempts: c.MAX_SEND_ATTEMPTS,
    reconnectSkewMs: c.RECONNECT_SKEW_SECONDS * 1000,
    sendLedgerRetentionDays: c.SEND_LEDGER_RETENTION_DAYS,
    accessTokens: secretRef(env, 'WHATSAPP_ACCESS_TOKEN', 'WHATSAPP_ACCESS_TOKEN_SECRET_ID', true) as SecretRef,
  };
};

/** Status route (read-only): the same table, the skew rule, nothing secret. */
export interface StatusConfig {
  readonly region: string;
  readonly dynamodbEndpoint: string | undefined;
  readonly tableName: string;
  readonly reconnectSkewMs: number;
}

export const loadStatusConfig = (env: Env = process.env): StatusConfig => {
  const c = parse(z.object({ ...aws, RECONNECT_SKEW_SECONDS: intFrom(300, 0, 86_400) }), env, 'status');
  return {
    region: c.AWS_REGION,
    dynamodbEndpoint: c.AWS_ENDPOINT_URL_DYNAMODB,
    tableName: c.TABLE_NAME,
    reconnectSkewMs: c.RECONNECT_SKEW_SECONDS * 1000,
  };
};
