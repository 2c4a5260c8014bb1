/** The consumer's object graph from its configuration and SDK clients: used by index.ts, the tests and the bench. */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { HttpCloudApi } from '../adapters/cloud-api.js';
import { DynamoClientHealthStore } from '../adapters/dynamo/client-health-store.js';
import { DynamoMessageOutcomeStore } from '../adapters/dynamo/message-outcome-store.js';
import { DynamoClientPhoneNumbers, DynamoSendLedger, DynamoStatusReader } from '../adapters/dynamo/outbound-stores.js';
import { DynamoPhoneOwnership } from '../adapters/dynamo/phone-ownership.js';
import { DynamoParkedStore } from '../adapters/dynamo/release-stores.js';
import { SqsOutboundQueues } from '../adapters/sqs.js';
import { SqsReleaseQueue } from '../adapters/sqs-release.js';
import { ClientHealthService } from '../core/health/client-health-service.js';
import { OutboundService } from '../core/outbound/outbound-service.js';
import type { OutboundQueues, TokenProvider } from '../core/outbound/ports.js';
import type { RelayEventPublisher } from '../core/outcomes/ports.js';
import type { Telemetry } from '../core/shared/telemetry.js';
import type { ConsumerConfig } from './config.js';

export interface ConsumerClients {
  readonly doc: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly tokens: TokenProvider;
  readonly telemetry: Telemetry;
  readonly events: RelayEventPublisher;
  /** The delay and dead-letter queues; default: SQS (tests may keep them in memory to control when copies come back). */
  readonly queues?: OutboundQueues;
}

export const composeConsumer = (config: ConsumerConfig, c: ConsumerClients): OutboundService => {
  const { doc, telemetry } = c;
  const cloudApi = new HttpCloudApi(config.graphApiBaseUrl, config.graphApiVersion, config.graphApiTimeoutMs);
  const releases = new SqsReleaseQueue(c.sqs, config.releaseQueueUrl);
  return new OutboundService({
    statuses: new DynamoStatusReader(doc, config.tableName),
    phones: new DynamoPhoneOwnership(doc, config.tableName),
    ledger: new DynamoSendLedger(doc, config.tableName, config.graphApiTimeoutMs * 2 + 5_000, config.sendLedgerRetentionDays),
    phoneNumbers: new DynamoClientPhoneNumbers(doc, config.tableName),
    queues:
      c.queues ??
      new SqsOutboundQueues(c.sqs, config.delayQueueUrl, config.deadLetterQueueUrl, (what, errors) => telemetry.error(`${what} send failed`, { errors: errors.slice(0, 3) })),
    cloudApi,
    tokens: c.tokens,
    telemetry,
    parked: new DynamoParkedStore(doc, config.tableName, config.maxParkSeconds + 86_400),
    releases,
    parkDelaySchedule: config.parkDelaySchedule,
    maxParkSeconds: config.maxParkSeconds,
    maxSendAttempts: config.maxSendAttempts,
    humanReplyHoldSeconds: config.humanReplyHoldSeconds,
    reconnectSkewMs: config.reconnectSkewMs,
    // A can-send probe releases the client's parked messages at once.
    health: new ClientHealthService({ store: new DynamoClientHealthStore(doc, config.tableName), api: cloudApi, tokens: c.tokens, telemetry, policy: config.probe, release: releases }),
    probeEndsOffboarding: config.probe.probeEndsOffboarding,
    messages: new DynamoMessageOutcomeStore(doc, config.tableName, config.sendLedgerRetentionDays),
    events: c.events,
  });
};
