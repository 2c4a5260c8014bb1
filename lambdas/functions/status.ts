/** Lambda entry point for `GET /clients/{wabaId}` (IAM-authorized in AWS). Read-only. */
import { dynamoClient } from '../adapters/aws-clients.js';
import { DynamoClientStore, documentClient } from '../adapters/dynamo-client-store.js';
import { createTelemetry } from '../adapters/telemetry.js';
import { loadStatusConfig } from '../config.js';
import { createStatusHandler } from '../handlers/status.js';

const config = loadStatusConfig();
const { telemetry } = createTelemetry('status');

export const handler = createStatusHandler({
  store: new DynamoClientStore(documentClient(dynamoClient(config.region, config.dynamodbEndpoint)), config.tableName),
  telemetry,
  reconnectSkewMs: config.reconnectSkewMs,
});
