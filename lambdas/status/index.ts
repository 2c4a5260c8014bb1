/**
 * Lambda entry point for `GET /clients/{wabaId}` and `POST /clients/{wabaId}/reset` (both IAM-authorized in AWS):
 * wiring only. Reads, and writes only an operator's reset.
 */
import { dynamoClient } from '../adapters/aws-clients.js';
import { DynamoClientStore, documentClient } from '../adapters/dynamo/client-store.js';
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
  }),
  { metrics: false },
);
