import { DynamoCounterStore } from '../../lambdas/adapters/dynamo/counters-item.js';
import { readMessageChanges } from '../../lambdas/adapters/dynamo/message-stream.js';
import { createTallyHandler } from '../../lambdas/tally/handler.js';
import { LocalStreamSource } from '../../local/stream-source.js';
import type { localResources } from './aws.js';
import { RecordingTelemetry } from './telemetry.js';

/**
 * The tally function on a test table's stream (DynamoDB Local), as `npm start` runs it; `drain()` before reading the
 * client counters. Throws when the table has no stream.
 */
export const startTally = async (env: Pick<Awaited<ReturnType<typeof localResources>>, 'dynamoEndpoint' | 'doc' | 'tableName'>, everyMs = 60_000) => {
  const telemetry = new RecordingTelemetry();
  const handler = createTallyHandler(readMessageChanges, new DynamoCounterStore(env.doc, env.tableName), telemetry);
  const source = new LocalStreamSource(env.dynamoEndpoint, env.tableName, handler, (error) => {
    throw error;
  }, everyMs);
  if (!(await source.start())) throw new Error(`table ${env.tableName} has no stream`);
  return { source, telemetry, drain: () => source.drain(), stop: () => source.stop() };
};
