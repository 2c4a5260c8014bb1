import * as z from 'zod/mini';
import type { SecretRef } from '../adapters/secrets.js';
import { DEFAULTS } from '../core/shared/defaults.js';
import { ConfigError } from '../core/shared/errors.js';
import { describeIssues } from '../core/shared/zod.js';

/**
 * Helpers for the functions' configuration schemas (`lambdas/<function>/config.ts`). Each function parses its
 * environment once, at cold start: a missing or malformed value fails the start (a ConfigError), never a request.
 * Secret values are never read from the environment in AWS: only the ids of Secrets Manager secrets.
 */
export type Env = Readonly<Record<string, string | undefined>>;

export const nonEmpty = z.string().check(z.trim(), z.minLength(1));

const trimmedOrUndefined = (s: string | undefined): string | undefined => {
  const t = s?.trim();
  return t ? t : undefined;
};

export const optionalNonEmpty = z.pipe(z.optional(z.string()), z.transform(trimmedOrUndefined));

export const withDefault = (def: string) =>
  z.pipe(
    z.optional(z.string()),
    z.transform((s: string | undefined) => trimmedOrUndefined(s) ?? def),
  );

export const intFrom = (def: number, min: number, max: number) =>
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

/**
 * The env fragments below are built when a function's schema spreads them (`...awsEnv()`), not at import: each zod call
 * costs tens of microseconds at cold start, and a function builds only the fragments it reads.
 */

/** The AWS side every function shares: region, optional local endpoints, the table. */
export const awsEnv = () => ({
  AWS_REGION: withDefault('us-east-1'),
  AWS_ENDPOINT_URL_DYNAMODB: optionalNonEmpty,
  AWS_ENDPOINT_URL_SQS: optionalNonEmpty,
  AWS_ENDPOINT_URL_SNS: optionalNonEmpty,
  TABLE_NAME: nonEmpty,
});

/** The AWS part of a function's configuration, from {@link awsEnv}'s values (SNS: {@link relayEventsFrom}). */
export const awsFrom = (c: { AWS_REGION: string; AWS_ENDPOINT_URL_DYNAMODB: string | undefined; AWS_ENDPOINT_URL_SQS: string | undefined; TABLE_NAME: string }) => ({
  region: c.AWS_REGION,
  dynamodbEndpoint: c.AWS_ENDPOINT_URL_DYNAMODB,
  sqsEndpoint: c.AWS_ENDPOINT_URL_SQS,
  tableName: c.TABLE_NAME,
});

/** An SNS topic ARN (`arn:<partition>:sns:<region>:<account>:<name>`). */
const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;

/** Relay events (webhook, consumer, releaser): the topic they publish to; unset, no events are published. */
export const relayEventsEnv = () => ({
  RELAY_EVENTS_TOPIC_ARN: z.pipe(optionalNonEmpty, z.optional(z.string().check(z.regex(SNS_TOPIC_ARN, 'must be an SNS topic ARN')))),
});

/** The relay-events part of a function's configuration, from {@link awsEnv} and {@link relayEventsEnv}'s values. */
export const relayEventsFrom = (c: { AWS_ENDPOINT_URL_SNS: string | undefined; RELAY_EVENTS_TOPIC_ARN?: string | undefined }) => ({
  snsEndpoint: c.AWS_ENDPOINT_URL_SNS,
  relayEventsTopicArn: c.RELAY_EVENTS_TOPIC_ARN,
});


/** `true` / `false` (any case); unset means the default. */
export const boolFrom = (def: boolean) =>
  z.pipe(
    z.optional(z.string()),
    z.transform((s: string | undefined, ctx) => {
      const t = s?.trim().toLowerCase();
      if (t === undefined || t === '') return def;
      if (t === 'true' || t === 'false') return t === 'true';
      ctx.issues.push({ code: 'custom', message: 'must be true or false', input: s });
      return def;
    }),
  );

/** The Cloud API (sends and probes): consumer and sweeper. */
export const graphApiEnv = () => ({
  GRAPH_API_BASE_URL: z.pipe(withDefault(DEFAULTS.graphApiBaseUrl), z.url({ protocol: /^https?$/ })),
  GRAPH_API_VERSION: z.pipe(withDefault(DEFAULTS.graphApiVersion), z.string().check(z.regex(/^v\d+\.\d+$/, 'must look like v25.0'))),
  GRAPH_API_TIMEOUT_MS: intFrom(DEFAULTS.graphApiTimeoutMs, 100, 60_000),
});

/** The Cloud API part of a function's configuration, from {@link graphApiEnv}'s values (base URL without a trailing slash). */
export const graphApiFrom = (c: { GRAPH_API_BASE_URL: string; GRAPH_API_VERSION: string; GRAPH_API_TIMEOUT_MS: number }) => ({
  graphApiBaseUrl: c.GRAPH_API_BASE_URL.replace(/\/+$/, ''),
  graphApiVersion: c.GRAPH_API_VERSION,
  graphApiTimeoutMs: c.GRAPH_API_TIMEOUT_MS,
});

/** What sending a message needs: its deadlines, attempts, the skew rule, the ledger's memory and the access tokens (consumer and releaser). */
export const sendPolicyEnv = () => ({
  MAX_PARK_SECONDS: intFrom(DEFAULTS.maxParkSeconds, 60, 14 * 86_400),
  MAX_SEND_ATTEMPTS: intFrom(DEFAULTS.maxSendAttempts, 1, 100),
  RECONNECT_SKEW_SECONDS: intFrom(DEFAULTS.reconnectSkewSeconds, 0, 86_400),
  SEND_LEDGER_RETENTION_DAYS: intFrom(DEFAULTS.sendLedgerRetentionDays, 1, 365),
  HUMAN_REPLY_HOLD_SECONDS: intFrom(DEFAULTS.humanReplyHoldSeconds, 0, 7 * 86_400),
  WHATSAPP_ACCESS_TOKEN: optionalNonEmpty,
  WHATSAPP_ACCESS_TOKEN_SECRET_ID: optionalNonEmpty,
});

/** Probing a client's number (holds and long offboardings): consumer and sweeper. */
export const probeEnv = () => ({
  PROBE_INTERVAL_SECONDS: intFrom(DEFAULTS.probeIntervalSeconds, 1, 86_400),
  PROBE_MAX_INTERVAL_SECONDS: intFrom(DEFAULTS.probeMaxIntervalSeconds, 1, 86_400),
  PROBE_BUDGET_PERCENT: intFrom(DEFAULTS.probeBudgetPercent, 0, 100),
  PROBE_ENDS_OFFBOARDING: boolFrom(DEFAULTS.probeEndsOffboarding),
});

/** The probe policy from {@link probeEnv}'s parsed values. */
export const probePolicyFrom = (c: {
  PROBE_INTERVAL_SECONDS: number;
  PROBE_MAX_INTERVAL_SECONDS: number;
  PROBE_BUDGET_PERCENT: number;
  PROBE_ENDS_OFFBOARDING: boolean;
}) => ({
  intervalSeconds: c.PROBE_INTERVAL_SECONDS,
  maxIntervalSeconds: Math.max(c.PROBE_INTERVAL_SECONDS, c.PROBE_MAX_INTERVAL_SECONDS),
  budgetShare: c.PROBE_BUDGET_PERCENT / 100,
  budgetPerHour: DEFAULTS.managementCallsPerHour,
  probeEndsOffboarding: c.PROBE_ENDS_OFFBOARDING,
});

/**
 * Resolves one secret reference inside a schema's transform; a problem is reported as an issue of the parse (so the
 * start fails with a ConfigError naming the variables). The placeholder returned with a problem is never used.
 */
export const secretRef = (
  env: Readonly<Record<string, unknown>>,
  valueName: string,
  idName: string,
  report: (message: string) => void,
): SecretRef => {
  const value = typeof env[valueName] === 'string' ? env[valueName] : undefined;
  const secretId = typeof env[idName] === 'string' ? env[idName] : undefined;
  if (value && secretId) report(`set either ${valueName} or ${idName}, not both`);
  else if (value) return { value };
  else if (secretId) return { secretId };
  else report(`${valueName} (or ${idName}) is required`);
  return { value: '' };
};

/** Adds a custom issue to a transform's context. */
export const reporter =
  (ctx: { issues: unknown[] }, input: unknown) =>
  (message: string): void => {
    ctx.issues.push({ code: 'custom', message, input });
  };

/** Parses `env` with a function's schema; any problem is a ConfigError listing the first ten. */
export const parseConfig = <S extends z.ZodMiniType>(schema: S, env: Env, fn: string): z.output<S> => {
  const r = schema.safeParse(env);
  if (!r.success) throw new ConfigError(`invalid ${fn} configuration: ${describeIssues(r.error, 10)}`);
  return r.data;
};
