/** Lambda entry point for the outbound and delay queues: wiring only. Configuration is checked once, at cold start. */
import { dynamoClient, snsPublisher, sqsClient } from '../adapters/aws-clients.js';
import { SecretTokenProvider } from '../adapters/cloud-api.js';
import { documentClient } from '../adapters/dynamo/client-store.js';
import { readSecret } from '../adapters/secrets.js';
import { isQueueArnOf } from '../adapters/sqs.js';
import { composeConsumer } from './compose.js';
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

const sqs = sqsClient(config.region, config.sqsEndpoint);
const service = composeConsumer(config, {
  doc: documentClient(dynamoClient(config.region, config.dynamodbEndpoint)),
  sqs,
  tokens,
  telemetry,
  events: relayEventPublisher(config.relayEventsTopicArn, () => snsPublisher(config.region, config.snsEndpoint), telemetry),
});

// Park attributes count only on records from the delay queue, told apart by the record's eventSourceARN.
const fromDelayQueue = (arn: string | undefined) => isQueueArnOf(arn, config.delayQueueUrl);
export const handler = lambdaHandler(runtime, createConsumerHandler(async () => service, telemetry, fromDelayQueue));
