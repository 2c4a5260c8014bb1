/** Lambda entry point run every few minutes (offboarded clients and how long they have been offboarded): wiring only. */
import { dynamoClient } from '../adapters/aws-clients.js';
import { DynamoOffboardedIndex, documentClient } from '../adapters/dynamo/client-store.js';
import { createRuntime, lambdaHandler } from '../shared/runtime.js';
import { loadSweeperConfig } from './config.js';
import { createSweeperHandler } from './handler.js';

const config = loadSweeperConfig();
const runtime = createRuntime('sweeper');

export const handler = lambdaHandler(
  runtime,
  createSweeperHandler(
    new DynamoOffboardedIndex(documentClient(dynamoClient(config.region, config.dynamodbEndpoint)), config.tableName),
    runtime.telemetry,
    config.reconnectSkewMs,
  ),
);
