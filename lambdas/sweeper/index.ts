/** Lambda entry point run every few minutes (offboarded and held clients, probes): wiring only. */
import { dynamoClient, sqsClient } from '../adapters/aws-clients.js';
import { HttpCloudApi, SecretTokenProvider } from '../adapters/cloud-api.js';
import { DynamoClientHealthStore } from '../adapters/dynamo/client-health-store.js';
import { DynamoOffboardedIndex, documentClient } from '../adapters/dynamo/client-store.js';
import { readSecret } from '../adapters/secrets.js';
import { SqsReleaseQueue } from '../adapters/sqs-release.js';
import { ClientHealthService } from '../core/health/client-health-service.js';
import { createRuntime, lambdaHandler } from '../shared/runtime.js';
import { loadSweeperConfig } from './config.js';
import { createSweeperHandler } from './handler.js';

const config = loadSweeperConfig();
const runtime = createRuntime('sweeper');
const doc = documentClient(dynamoClient(config.region, config.dynamodbEndpoint));
const health = new ClientHealthService({
  store: new DynamoClientHealthStore(doc, config.tableName),
  api: new HttpCloudApi(config.graphApiBaseUrl, config.graphApiVersion, config.graphApiTimeoutMs),
  tokens: new SecretTokenProvider(() => readSecret(config.accessTokens, 'WHATSAPP_ACCESS_TOKEN')),
  telemetry: runtime.telemetry,
  policy: config.probe,
  // A can-send probe releases the client's parked messages at once.
  release: new SqsReleaseQueue(sqsClient(config.region, config.sqsEndpoint), config.releaseQueueUrl),
});

export const handler = lambdaHandler(
  runtime,
  createSweeperHandler(
    new DynamoOffboardedIndex(doc, config.tableName),
    runtime.telemetry,
    {
      reconnectSkewMs: config.reconnectSkewMs,
      probeEndsOffboarding: config.probe.probeEndsOffboarding,
      staleOffboardingSeconds: config.staleOffboardingSeconds,
      maxProbesPerRun: config.probesPerRun,
    },
    Date.now,
    health,
  ),
);
