import { describe, expect, it } from 'vitest';
import { loadConsumerConfig } from '../../lambdas/consumer/config.js';
import { loadReleaserConfig } from '../../lambdas/releaser/config.js';
import { loadStatusConfig } from '../../lambdas/status/config.js';
import { loadSweeperConfig } from '../../lambdas/sweeper/config.js';
import { loadWebhookConfig } from '../../lambdas/webhook/config.js';
import { ConfigError } from '../../lambdas/core/shared/errors.js';

const webhookEnv = { TABLE_NAME: 't', INBOUND_EVENTS_QUEUE_URL: 'http://q', INBOUND_BUCKET_NAME: 'b', RELEASE_QUEUE_URL: 'http://r', META_APP_SECRET: 's', WEBHOOK_VERIFY_TOKEN: 'v' };
const consumerEnv = { TABLE_NAME: 't', DELAY_QUEUE_URL: 'http://d', DEAD_LETTER_QUEUE_URL: 'http://x', RELEASE_QUEUE_URL: 'http://r', WHATSAPP_ACCESS_TOKEN: 'tok' };

describe('webhook configuration', () => {
  it('applies documented defaults', () => {
    expect(loadWebhookConfig(webhookEnv)).toMatchObject({
      region: 'us-east-1',
      tableName: 't',
      reconnectSkewMs: 300_000,
      timelineRetentionDays: 30,
      appSecret: { value: 's' },
      verifyToken: { value: 'v' },
      dynamodbEndpoint: undefined,
    });
  });
  it('takes Secrets Manager ids instead of values', () => {
    const c = loadWebhookConfig({ ...webhookEnv, META_APP_SECRET: undefined, META_APP_SECRET_ID: 'arn:secret', WEBHOOK_VERIFY_TOKEN: '', WEBHOOK_VERIFY_TOKEN_SECRET_ID: 'arn:v' });
    expect(c.appSecret).toEqual({ secretId: 'arn:secret' });
    expect(c.verifyToken).toEqual({ secretId: 'arn:v' });
  });
  it.each([
    ['no app secret', { META_APP_SECRET: undefined }, 'META_APP_SECRET (or META_APP_SECRET_ID) is required'],
    ['a blank app secret', { META_APP_SECRET: '   ' }, 'META_APP_SECRET'],
    ['both value and id', { META_APP_SECRET_ID: 'arn' }, 'not both'],
    ['no verify token', { WEBHOOK_VERIFY_TOKEN: undefined }, 'WEBHOOK_VERIFY_TOKEN'],
    ['no table', { TABLE_NAME: undefined }, 'TABLE_NAME'],
    ['a bad skew', { RECONNECT_SKEW_SECONDS: '-1' }, 'RECONNECT_SKEW_SECONDS'],
    ['a fractional retention', { TIMELINE_RETENTION_DAYS: '1.5' }, 'TIMELINE_RETENTION_DAYS'],
  ])('fails the start with %s', (_n, override, message) => {
    expect(() => loadWebhookConfig({ ...webhookEnv, ...override })).toThrow(ConfigError);
    expect(() => loadWebhookConfig({ ...webhookEnv, ...override })).toThrow(message);
  });
});

describe('consumer configuration', () => {
  it('applies documented defaults', () => {
    expect(loadConsumerConfig(consumerEnv)).toMatchObject({
      graphApiBaseUrl: 'https://graph.facebook.com',
      graphApiVersion: 'v25.0',
      graphApiTimeoutMs: 10_000,
      parkDelaySchedule: [900],
      releaseQueueUrl: 'http://r',
      maxParkSeconds: 86_400,
      maxSendAttempts: 8,
      sendLedgerRetentionDays: 15,
      accessTokens: { value: 'tok' },
    });
  });
  it('reads a custom schedule and strips a trailing slash from the base URL', () => {
    const c = loadConsumerConfig({ ...consumerEnv, PARK_DELAY_SCHEDULE: '1, 2,3', GRAPH_API_BASE_URL: 'http://127.0.0.1:9/' });
    expect(c.parkDelaySchedule).toEqual([1, 2, 3]);
    expect(c.graphApiBaseUrl).toBe('http://127.0.0.1:9');
  });
  it.each([
    ['a schedule value above 900', { PARK_DELAY_SCHEDULE: '10,1000' }, 'from 0 to 900'],
    ['a version without v', { GRAPH_API_VERSION: '25.0' }, 'v25.0'],
    ['a base URL that is not one', { GRAPH_API_BASE_URL: 'graph.facebook.com' }, 'GRAPH_API_BASE_URL'],
    ['no token', { WHATSAPP_ACCESS_TOKEN: undefined }, 'WHATSAPP_ACCESS_TOKEN'],
    ['no release queue', { RELEASE_QUEUE_URL: undefined }, 'RELEASE_QUEUE_URL'],
    ['MAX_PARK_SECONDS too small', { MAX_PARK_SECONDS: '5' }, 'MAX_PARK_SECONDS'],
    ['no delay queue', { DELAY_QUEUE_URL: '' }, 'DELAY_QUEUE_URL'],
  ])('fails the start with %s', (_n, override, message) => {
    expect(() => loadConsumerConfig({ ...consumerEnv, ...override })).toThrow(message);
  });
});

describe('status configuration', () => {
  it('needs the table and the release queue (a reset asks for a release)', () => {
    expect(loadStatusConfig({ TABLE_NAME: 't', RELEASE_QUEUE_URL: 'http://r' })).toEqual({
      region: 'us-east-1',
      dynamodbEndpoint: undefined,
      sqsEndpoint: undefined,
      tableName: 't',
      releaseQueueUrl: 'http://r',
      reconnectSkewMs: 300_000,
      timelineRetentionDays: 30,
      probeEndsOffboarding: false,
      humanReplyHoldSeconds: 1_800,
    });
    expect(loadStatusConfig({ TABLE_NAME: 't', RELEASE_QUEUE_URL: 'http://r', PROBE_ENDS_OFFBOARDING: 'TRUE' }).probeEndsOffboarding).toBe(true);
    expect(() => loadStatusConfig({ TABLE_NAME: 't', RELEASE_QUEUE_URL: 'http://r', PROBE_ENDS_OFFBOARDING: 'yes' })).toThrow('PROBE_ENDS_OFFBOARDING');
    expect(() => loadStatusConfig({ TABLE_NAME: 't' })).toThrow('RELEASE_QUEUE_URL');
    expect(() => loadStatusConfig({})).toThrow(ConfigError);
  });
});

describe('sweeper configuration', () => {
  const sweeperEnv = { TABLE_NAME: 't', RELEASE_QUEUE_URL: 'http://r', WHATSAPP_ACCESS_TOKEN: 'tok' };
  it('takes the probe policy and the stale-offboarding threshold, with defaults', () => {
    expect(loadSweeperConfig(sweeperEnv)).toMatchObject({
      tableName: 't',
      graphApiVersion: 'v25.0',
      probe: { intervalSeconds: 60, maxIntervalSeconds: 900, budgetShare: 0.02, budgetPerHour: 5000, probeEndsOffboarding: false },
      staleOffboardingSeconds: 1800,
      probesPerRun: 25,
      accessTokens: { value: 'tok' },
    });
    expect(
      loadSweeperConfig({ ...sweeperEnv, PROBE_INTERVAL_SECONDS: '120', PROBE_MAX_INTERVAL_SECONDS: '30', PROBE_BUDGET_PERCENT: '5' }).probe,
    ).toMatchObject({ intervalSeconds: 120, maxIntervalSeconds: 120, budgetShare: 0.05 });
  });
  it.each([
    ['no token', { WHATSAPP_ACCESS_TOKEN: undefined }, 'WHATSAPP_ACCESS_TOKEN'],
    ['no release queue', { RELEASE_QUEUE_URL: undefined }, 'RELEASE_QUEUE_URL'],
    ['a budget over 100%', { PROBE_BUDGET_PERCENT: '150' }, 'PROBE_BUDGET_PERCENT'],
    ['an interval of 0', { PROBE_INTERVAL_SECONDS: '0' }, 'PROBE_INTERVAL_SECONDS'],
    ['a stale threshold under a minute', { STALE_OFFBOARDING_SECONDS: '10' }, 'STALE_OFFBOARDING_SECONDS'],
  ])('fails the start with %s', (_n, override, message) => {
    expect(() => loadSweeperConfig({ ...sweeperEnv, ...override })).toThrow(message);
  });
  it('the consumer reads the same probe policy', () => {
    expect(loadConsumerConfig({ ...consumerEnv, PROBE_ENDS_OFFBOARDING: 'true' }).probe).toMatchObject({ intervalSeconds: 60, probeEndsOffboarding: true });
  });
});

describe('relay events configuration (webhook, consumer, releaser)', () => {
  const releaserEnv = { TABLE_NAME: 't', RELEASE_QUEUE_URL: 'http://r', DEAD_LETTER_QUEUE_URL: 'http://x', WHATSAPP_ACCESS_TOKEN: 'tok' };
  const arn = 'arn:aws:sns:eu-west-1:111111111111:CoexistenceRelay-prod-relay-events';
  const loaders = [
    ['webhook', (e: Record<string, string | undefined>) => loadWebhookConfig({ ...webhookEnv, ...e })],
    ['consumer', (e: Record<string, string | undefined>) => loadConsumerConfig({ ...consumerEnv, ...e })],
    ['releaser', (e: Record<string, string | undefined>) => loadReleaserConfig({ ...releaserEnv, ...e })],
  ] as const;

  it.each(loaders)('%s: events are off without a topic, on with its ARN; the SNS endpoint is honoured', (_n, load) => {
    expect(load({})).toMatchObject({ relayEventsTopicArn: undefined, snsEndpoint: undefined });
    expect(load({ RELAY_EVENTS_TOPIC_ARN: ` ${arn} `, AWS_ENDPOINT_URL_SNS: 'http://127.0.0.1:4566' })).toMatchObject({
      relayEventsTopicArn: arn,
      snsEndpoint: 'http://127.0.0.1:4566',
    });
    expect(load({ RELAY_EVENTS_TOPIC_ARN: '' }).relayEventsTopicArn).toBeUndefined();
  });

  it.each(loaders)('%s: fails the start with a value that is not a topic ARN', (_n, load) => {
    for (const bad of ['relay-events', 'arn:aws:sqs:eu-west-1:111111111111:relay-events', 'https://sns.eu-west-1.amazonaws.com/relay-events']) {
      expect(() => load({ RELAY_EVENTS_TOPIC_ARN: bad })).toThrow(ConfigError);
      expect(() => load({ RELAY_EVENTS_TOPIC_ARN: bad })).toThrow('RELAY_EVENTS_TOPIC_ARN: must be an SNS topic ARN');
    }
  });
});
