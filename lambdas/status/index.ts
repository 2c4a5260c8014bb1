/**
 * Lambda entry point for `GET /clients/{wabaId}` and `POST /clients/{wabaId}/reset` (both IAM-authorized in AWS):
 * wiring only. Reads, and writes only an operator's reset (and the release request it makes).
 */
import { dynamoClient, sqsClient } from '../adapters/aws-clients.js';
import { DynamoClientStore, documentClient } from '../adapters/dynamo/client-store.js';
import { SqsReleaseQueue } from '../adapters/sqs-release.js';
import { createRuntime, lambdaHandler } from '../shared/runtime.js';
import { loadStatusConfig } from './config.js';
import { createStatusHandler } from './handler.js';

const config = loadStatusConfig();
const runtime = createRuntime('status');

export const handler = lambdaHandler(
  runtime,
  createStatusHandler({
    store: new DynamoClientStore(documentClient(dynamoClient(config.region, config.dynamodbEndpoint)), config.tableName),
    telemetry: runtime.telemetry,
    reconnectSkewMs: config.reconnectSkewMs,
    probeEndsOffboarding: config.probeEndsOffboarding,
    timelineRetentionDays: config.timelineRetentionDays,
    releases: new SqsReleaseQueue(sqsClient(config.region, config.sqsEndpoint), config.releaseQueueUrl),
  }),
);
