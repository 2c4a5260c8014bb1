/** Lambda entry point for the outbound and delay queues: wiring only. Configuration is checked once, at cold start. */
import { dynamoClient, snsPublisher, sqsClient } from '../adapters/aws-clients.js';
import { HttpCloudApi, SecretTokenProvider } from '../adapters/cloud-api.js';
import { documentClient } from '../adapters/dynamo/client-store.js';
import { DynamoActivityRecorder, DynamoSendLedger, DynamoStatusReader } from '../adapters/dynamo/outbound-stores.js';
import { DynamoParkedStore } from '../adapters/dynamo/release-stores.js';
import { SqsReleaseQueue } from '../adapters/sqs-release.js';
import { DynamoPhoneOwnership } from '../adapters/dynamo/phone-ownership.js';
import { DynamoClientHealthStore } from '../adapters/dynamo/client-health-store.js';
import { readSecret } from '../adapters/secrets.js';
import { ClientHealthService } from '../core/client-health-service.js';
import { isQueueArnOf, SqsOutboundQueues } from '../adapters/sqs.js';
import { OutboundService } from '../core/outbound-service.js';
import { DynamoMessageOutcomeStore } from '../adapters/dynamo/message-outcome-store.js';
import { relayEventPublisher } from '../adapters/sns-events.js';
import { createRuntime, lambdaHandler } from '../shared/runtime.js';
import { loadConsumerConfig } from './config.js';
import { createConsumerHandler } from './handler.js';

const config = loadConsumerConfig();
const runtime = createRuntime('consumer');
const { telemetry } = runtime;
const tokens = new SecretTokenProvider(() => readSecret(config.accessTokens, 'WHATSAPP_ACCESS_TOKEN'));
await tokens.tokenFor('startup-check').catch((error: Error) => {
  if (error.name !== 'NoTokenError') throw error; // only per-WABA tokens configured: fine
});

const doc = documentClient(dynamoClient(config.region, config.dynamodbEndpoint));
const sqs = sqsClient(config.region, config.sqsEndpoint);
const cloudApi = new HttpCloudApi(config.graphApiBaseUrl, config.graphApiVersion, config.graphApiTimeoutMs);
const releases = new SqsReleaseQueue(sqs, config.releaseQueueUrl);
const health = new ClientHealthService({
  store: new DynamoClientHealthStore(doc, config.tableName),
  api: cloudApi,
  tokens,
  telemetry,
  policy: config.probe,
  // A can-send probe releases the client's parked messages at once.
  release: releases,
});
const service = new OutboundService({
  statuses: new DynamoStatusReader(doc, config.tableName),
  phones: new DynamoPhoneOwnership(doc, config.tableName),
  ledger: new DynamoSendLedger(doc, config.tableName, config.graphApiTimeoutMs * 2 + 5_000, config.sendLedgerRetentionDays),
  activity: new DynamoActivityRecorder(doc, config.tableName),
  queues: new SqsOutboundQueues(sqs, config.delayQueueUrl, config.deadLetterQueueUrl, (what, errors) =>
    telemetry.error(`${what} send failed`, { errors: errors.slice(0, 3) }),
  ),
  cloudApi,
  tokens,
  telemetry,
  parked: new DynamoParkedStore(doc, config.tableName, config.maxParkSeconds + 86_400),
  releases,
  parkDelaySchedule: config.parkDelaySchedule,
  maxParkSeconds: config.maxParkSeconds,
  maxSendAttempts: config.maxSendAttempts,
  reconnectSkewMs: config.reconnectSkewMs,
  health,
  probeEndsOffboarding: config.probe.probeEndsOffboarding,
  messages: new DynamoMessageOutcomeStore(doc, config.tableName, config.sendLedgerRetentionDays),
  events: relayEventPublisher(config.relayEventsTopicArn, () => snsPublisher(config.region, config.snsEndpoint, sqs), telemetry),
});

// Park attributes count only on records from the delay queue, told apart by the record's eventSourceARN.
const fromDelayQueue = (arn: string | undefined) => isQueueArnOf(arn, config.delayQueueUrl);
export const handler = lambdaHandler(runtime, createConsumerHandler(async () => service, telemetry, fromDelayQueue));
