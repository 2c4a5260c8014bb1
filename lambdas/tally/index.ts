/** Lambda entry point on the table's stream: the client counters (wiring only). */
import { dynamoClient } from '../adapters/aws-clients.js';
import { documentClient } from '../adapters/dynamo/client-store.js';
import { DynamoCounterStore } from '../adapters/dynamo/counters-item.js';
import { readMessageChanges } from '../adapters/dynamo/message-stream.js';
import { createRuntime, lambdaHandler } from '../shared/runtime.js';
import { loadTallyConfig } from './config.js';
import { createTallyHandler } from './handler.js';

const config = loadTallyConfig();
const runtime = createRuntime('tally');
const doc = documentClient(dynamoClient(config.region, config.dynamodbEndpoint));

export const handler = lambdaHandler(runtime, createTallyHandler(readMessageChanges, new DynamoCounterStore(doc, config.tableName), runtime.telemetry));
