/** Lambda entry point for the release queue: wiring only. Configuration is checked once, at cold start. */
import { dynamoClient, snsPublisher, sqsClient } from '../adapters/aws-clients.js';
import { SecretTokenProvider } from '../adapters/cloud-api.js';
import { documentClient } from '../adapters/dynamo/client-store.js';
import { readSecret } from '../adapters/secrets.js';
import { relayEventPublisher } from '../adapters/sns-events.js';
import { createRuntime, lambdaHandler } from '../shared/runtime.js';
import { composeReleaser } from './compose.js';
import { loadReleaserConfig } from './config.js';
import { createReleaserHandler } from './handler.js';

const config = loadReleaserConfig();
const runtime = createRuntime('releaser');
const { telemetry } = runtime;
const sqs = sqsClient(config.region, config.sqsEndpoint);
const service = composeReleaser(config, {
  doc: documentClient(dynamoClient(config.region, config.dynamodbEndpoint)),
  sqs,
  tokens: new SecretTokenProvider(() => readSecret(config.accessTokens, 'WHATSAPP_ACCESS_TOKEN')),
  telemetry,
  events: relayEventPublisher(config.relayEventsTopicArn, () => snsPublisher(config.region, config.snsEndpoint), telemetry),
});

export const handler = lambdaHandler(runtime, createReleaserHandler(async () => service, telemetry));
