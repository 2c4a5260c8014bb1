/** Lambda entry point for the release queue: wiring only. Configuration is checked once, at cold start. */
import { dynamoClient, snsPublisher, sqsClient } from '../adapters/aws-clients.js';
import { HttpCloudApi, SecretTokenProvider } from '../adapters/cloud-api.js';
import { documentClient } from '../adapters/dynamo/client-store.js';
import { DynamoMessageOutcomeStore } from '../adapters/dynamo/message-outcome-store.js';
import { DynamoActivityRecorder, DynamoSendLedger } from '../adapters/dynamo/outbound-stores.js';
import { DynamoPacer, DynamoParkedStore, DynamoReleaseStore } from '../adapters/dynamo/release-stores.js';
import { readSecret } from '../adapters/secrets.js';
import { relayEventPublisher } from '../adapters/sns-events.js';
import { sendBatches } from '../adapters/sqs.js';
import { SqsReleaseQueue } from '../adapters/sqs-release.js';
import { CallWindow, paceIntervalMs } from '../core/pacing.js';
import { ReleaseService } from '../core/release.js';
import { createRuntime, lambdaHandler } from '../shared/runtime.js';
import { loadReleaserConfig } from './config.js';
import { createReleaserHandler } from './handler.js';

const config = loadReleaserConfig();
const runtime = createRuntime('releaser');
const { telemetry } = runtime;
const tokens = new SecretTokenProvider(() => readSecret(config.accessTokens, 'WHATSAPP_ACCESS_TOKEN'));

const doc = documentClient(dynamoClient(config.region, config.dynamodbEndpoint));
const sqs = sqsClient(config.region, config.sqsEndpoint);
const service = new ReleaseService({
  parked: new DynamoParkedStore(doc, config.tableName, config.maxParkSeconds + 86_400),
  control: new DynamoReleaseStore(doc, config.tableName),
  requests: new SqsReleaseQueue(sqs, config.releaseQueueUrl),
  pacer: new DynamoPacer(doc, config.tableName, paceIntervalMs(config.releaseRatePerSecond)),
  callWindow: new CallWindow(config.releaseRatePerSecond),
  ledger: new DynamoSendLedger(doc, config.tableName, config.graphApiTimeoutMs * 2 + 5_000, config.sendLedgerRetentionDays),
  activity: new DynamoActivityRecorder(doc, config.tableName),
  tokens,
  cloudApi: new HttpCloudApi(config.graphApiBaseUrl, config.graphApiVersion, config.graphApiTimeoutMs),
  queues: {
    deadLetter: async (messages) => {
      const { failed, errors } = await sendBatches(sqs, config.deadLetterQueueUrl, messages);
      if (errors.length > 0) telemetry.error('dead-letter queue send failed', { errors: errors.slice(0, 3) });
      return failed;
    },
  },
  telemetry,
  maxSendAttempts: config.maxSendAttempts,
  maxParkSeconds: config.maxParkSeconds,
  reconnectSkewMs: config.reconnectSkewMs,
  messages: new DynamoMessageOutcomeStore(doc, config.tableName, config.sendLedgerRetentionDays),
  events: relayEventPublisher(config.relayEventsTopicArn, () => snsPublisher(config.region, config.snsEndpoint, sqs), telemetry),
});

export const handler = lambdaHandler(runtime, createReleaserHandler(async () => service, telemetry));
