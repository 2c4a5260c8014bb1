/** The releaser's object graph from its configuration and SDK clients: used by index.ts, the tests and the bench. */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { HttpCloudApi } from '../adapters/cloud-api.js';
import { DynamoClientHealthStore } from '../adapters/dynamo/client-health-store.js';
import { DynamoMessageOutcomeStore } from '../adapters/dynamo/message-outcome-store.js';
import { DynamoSendLedger, DynamoStatusReader } from '../adapters/dynamo/outbound-stores.js';
import { DynamoPacer, DynamoParkedStore, DynamoReleaseStore } from '../adapters/dynamo/release-stores.js';
import { sendBatches } from '../adapters/sqs.js';
import { SqsReleaseQueue } from '../adapters/sqs-release.js';
import { ClientHealthService } from '../core/health/client-health-service.js';
import { CallWindow, paceIntervalMs } from '../core/release/pacing.js';
import type { OutboundQueues, TokenProvider } from '../core/outbound/ports.js';
import type { RelayEventPublisher } from '../core/outcomes/ports.js';
import type { Telemetry } from '../core/shared/telemetry.js';
import { ReleaseService } from '../core/release/release.js';
import type { ReleaserConfig } from './config.js';

export interface ReleaserClients {
  readonly doc: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly tokens: TokenProvider;
  readonly telemetry: Telemetry;
  readonly events: RelayEventPublisher;
  /** The dead-letter queue; default: SQS (tests may keep it in memory). */
  readonly deadLetter?: OutboundQueues['deadLetter'];
}

export const composeReleaser = (config: ReleaserConfig, c: ReleaserClients): ReleaseService => {
  const { doc, telemetry } = c;
  const cloudApi = new HttpCloudApi(config.graphApiBaseUrl, config.graphApiVersion, config.graphApiTimeoutMs);
  const requests = new SqsReleaseQueue(c.sqs, config.releaseQueueUrl);
  return new ReleaseService({
    parked: new DynamoParkedStore(doc, config.tableName, config.maxParkSeconds + 86_400),
    control: new DynamoReleaseStore(doc, config.tableName),
    statuses: new DynamoStatusReader(doc, config.tableName),
    requests,
    pacer: new DynamoPacer(doc, config.tableName, paceIntervalMs(config.releaseRatePerSecond)),
    callWindow: new CallWindow(config.releaseRatePerSecond),
    ledger: new DynamoSendLedger(doc, config.tableName, config.graphApiTimeoutMs * 2 + 5_000, config.sendLedgerRetentionDays),
    tokens: c.tokens,
    cloudApi,
    queues: {
      deadLetter:
        c.deadLetter ??
        (async (messages) => {
          const { failed, errors } = await sendBatches(c.sqs, config.deadLetterQueueUrl, messages);
          if (errors.length > 0) telemetry.error('dead-letter queue send failed', { errors: errors.slice(0, 3) });
          return failed;
        }),
    },
    telemetry,
    maxSendAttempts: config.maxSendAttempts,
    humanReplyHoldSeconds: config.humanReplyHoldSeconds,
    maxParkSeconds: config.maxParkSeconds,
    reconnectSkewMs: config.reconnectSkewMs,
    probeEndsOffboarding: config.probe.probeEndsOffboarding,
    health: new ClientHealthService({
      store: new DynamoClientHealthStore(doc, config.tableName),
      api: cloudApi,
      tokens: c.tokens,
      telemetry,
      policy: config.probe,
      release: requests,
    }),
    messages: new DynamoMessageOutcomeStore(doc, config.tableName, config.sendLedgerRetentionDays),
    events: c.events,
  });
};
