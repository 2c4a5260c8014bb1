/** Lambda entry point run every few minutes: offboarded clients and how long they have been offboarded. */
import { dynamoClient } from '../adapters/aws-clients.js';
import { DynamoOffboardedIndex, documentClient } from '../adapters/dynamo-client-store.js';
import { createTelemetry } from '../adapters/telemetry.js';
import { loadStatusConfig } from '../config.js';
import { DEFAULTS } from '../core/defaults.js';
import { createSweeperHandler } from '../handlers/sweeper.js';

const config = loadStatusConfig();
const { telemetry, metrics } = createTelemetry('sweeper');
const inner = createSweeperHandler(
  new DynamoOffboardedIndex(documentClient(dynamoClient(config.region, config.dynamodbEndpoint)), config.tableName),
  telemetry,
  {
    reconnectSkewMs: config.reconnectSkewMs,
    probeEndsOffboarding: DEFAULTS.probeEndsOffboarding,
    staleOffboardingSeconds: DEFAULTS.staleOffboardingSeconds,
    maxProbesPerRun: DEFAULTS.sweeperProbesPerRun,
  },
);

export const handler = async () => {
  try {
    return await inner();
  } finally {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
};
