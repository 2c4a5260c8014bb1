/**
 * Lambda entry point for `GET/POST /webhook`: wiring only. Configuration and secrets are read here, once, at cold
 * start: a missing secret fails the start (the function never answers), it never opens the door.
 */
import { dynamoClient, snsPublisher, sqsClient } from '../adapters/aws-clients.js';
import { DynamoClientStore, documentClient } from '../adapters/dynamo/client-store.js';
import { DynamoHumanReplyStore } from '../adapters/dynamo/human-reply-store.js';
import { DynamoPhoneOwnership } from '../adapters/dynamo/phone-ownership.js';
import { readSecret, splitSecrets } from '../adapters/secrets.js';
import { S3LargeValueStore } from '../adapters/s3-large-values.js';
import { SqsInboundEventSink, SqsOutboundEnqueuer } from '../adapters/sqs.js';
import { DynamoMessageOutcomeStore } from '../adapters/dynamo/message-outcome-store.js';
import { MessageOutcomeService } from '../core/outcomes/message-outcome-service.js';
import { relayEventPublisher } from '../adapters/sns-events.js';
import { SqsReleaseQueue } from '../adapters/sqs-release.js';
import { MissingSecretError } from '../core/webhook/signature.js';
import { createRuntime, lambdaHandler } from '../shared/runtime.js';
import { loadWebhookConfig } from './config.js';
import { createWebhookHandler } from './handler.js';

const config = loadWebhookConfig();
const runtime = createRuntime('webhook');
const secrets = async () => {
  const appSecrets = splitSecrets(await readSecret(config.appSecret, 'META_APP_SECRET'));
  if (appSecrets.length === 0) throw new MissingSecretError('META_APP_SECRET');
  return { appSecrets, verifyToken: await readSecret(config.verifyToken, 'WEBHOOK_VERIFY_TOKEN') };
};
await secrets(); // fail the cold start, not a request, when a secret is missing
const sqs = sqsClient(config.region, config.sqsEndpoint);

const largeValues = new S3LargeValueStore({ bucket: config.inboundBucketName, region: config.region, endpoint: config.s3Endpoint });
const doc = documentClient(dynamoClient(config.region, config.dynamodbEndpoint));
const events = relayEventPublisher(config.relayEventsTopicArn, () => snsPublisher(config.region, config.snsEndpoint), runtime.telemetry);
export const handler = lambdaHandler(
  runtime,
  createWebhookHandler({
    store: new DynamoClientStore(doc, config.tableName),
    phones: new DynamoPhoneOwnership(doc, config.tableName),
    humanReplies: new DynamoHumanReplyStore(doc, config.tableName),
    outcomes: new MessageOutcomeService({
      store: new DynamoMessageOutcomeStore(doc, config.tableName, config.sendLedgerRetentionDays),
      events,
      telemetry: runtime.telemetry,
      ...(config.outboundQueueUrl ? { fallbacks: new SqsOutboundEnqueuer(sqs, config.outboundQueueUrl) } : {}),
    }),
    inbound: new SqsInboundEventSink(sqs, config.inboundEventsQueueUrl, largeValues),
    releases: new SqsReleaseQueue(sqs, config.releaseQueueUrl),
    events,
    telemetry: runtime.telemetry,
    secrets,
    reconnectSkewMs: config.reconnectSkewMs,
    timelineRetentionDays: config.timelineRetentionDays,
  }),
);
