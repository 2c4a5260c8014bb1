import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { LARGE_VALUE_PREFIX } from '../lambdas/core/webhook/inbound-message.js';
import { ClientCounters } from './constructs/client-counters.js';
import { ClientStatusTable } from './constructs/client-status-table.js';
import { InboundBucket } from './constructs/inbound-bucket.js';
import { Monitoring } from './constructs/monitoring.js';
import { OffboardedSweeper } from './constructs/offboarded-sweeper.js';
import { OutboundPipeline } from './constructs/outbound-pipeline.js';
import { RelayEvents } from './constructs/relay-events.js';
import { RelayQueue } from './constructs/relay-queue.js';
import { ReleasePipeline, releaseVisibilityTimeout } from './constructs/release-pipeline.js';
import { RelaySecrets } from './constructs/relay-secrets.js';
import { WebhookApi } from './constructs/webhook-api.js';
import { STACK_OUTPUTS } from './stack-outputs.js';
import type { StageConfig } from './stage-config.js';

export interface RelayStackProps extends StackProps {
  readonly config: StageConfig;
}

const RETENTION: Record<StageConfig['logRetentionDays'], RetentionDays> = {
  7: RetentionDays.ONE_WEEK,
  14: RetentionDays.TWO_WEEKS,
  30: RetentionDays.ONE_MONTH,
  90: RetentionDays.THREE_MONTHS,
  180: RetentionDays.SIX_MONTHS,
  365: RetentionDays.ONE_YEAR,
};

/**
 * One environment of coexistence-relay. Construct ids of stateful resources (table, queues) are part of their
 * logical ids: renaming one replaces the resource and loses its data. `test/cdk` pins them.
 */
export class RelayStack extends Stack {
  readonly statusTable: ClientStatusTable;
  readonly webhookApi: WebhookApi;
  readonly outbound: OutboundPipeline;
  readonly inboundEvents: RelayQueue;
  readonly releaseQueue: RelayQueue;
  readonly inboundBucket: InboundBucket;
  readonly release: ReleasePipeline;
  readonly relayEvents: RelayEvents;
  readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: RelayStackProps) {
    super(scope, id, props);
    const c = props.config;
    const logRetention = RETENTION[c.logRetentionDays];
    const metricsNamespace = `CoexistenceRelay/${c.stage}`;

    this.statusTable = new ClientStatusTable(this, 'ClientStatus', { removalPolicy: c.removalPolicy, deletionProtection: c.tableDeletionProtection });
    const secrets = new RelaySecrets(this, 'Secrets', { ...c.secrets, removalPolicy: c.removalPolicy });
    this.inboundEvents = new RelayQueue(this, 'InboundEvents', { retention: c.queues.retention, removalPolicy: c.removalPolicy, maxReceiveCount: c.queues.maxReceiveCount });

    this.releaseQueue = new RelayQueue(this, 'Release', {
      retention: c.queues.retention,
      visibilityTimeout: releaseVisibilityTimeout(),
      removalPolicy: c.removalPolicy,
      maxReceiveCount: c.queues.maxReceiveCount,
    });

    this.webhookApi = new WebhookApi(this, 'WebhookApi', {
      table: this.statusTable.table,
      inboundEventsQueue: this.inboundEvents.queue,
      releaseQueue: this.releaseQueue.queue,
      appSecret: secrets.appSecret,
      verifyToken: secrets.verifyToken,
      timeout: c.webhook.timeout,
      memoryMiB: c.webhook.memoryMiB,
      throttleRateLimit: c.api.throttleRateLimit,
      throttleBurstLimit: c.api.throttleBurstLimit,
      webhookRateLimit: c.api.webhookRateLimit,
      webhookBurstLimit: c.api.webhookBurstLimit,
      ...(c.webhook.reservedConcurrency !== undefined ? { webhookReservedConcurrency: c.webhook.reservedConcurrency } : {}),
      reconnectSkewSeconds: c.relay.reconnectSkewSeconds,
      probeEndsOffboarding: c.health.probeEndsOffboarding,
      humanReplyHoldSeconds: c.relay.humanReplyHoldSeconds,
      timelineRetentionDays: c.relay.timelineRetentionDays,
      metricsNamespace,
      logRetention,
      logRemovalPolicy: c.removalPolicy,
      sourceMapsAtRuntime: c.sourceMapsAtRuntime,
    });

    this.outbound = new OutboundPipeline(this, 'Outbound', {
      table: this.statusTable.table,
      releaseQueue: this.releaseQueue.queue,
      accessToken: secrets.accessToken,
      timeout: c.consumer.timeout,
      memoryMiB: c.consumer.memoryMiB,
      maxConcurrency: c.consumer.maxConcurrency,
      batchSize: c.consumer.batchSize,
      retention: c.queues.retention,
      maxReceiveCount: c.queues.maxReceiveCount,
      ...c.relay,
      health: c.health,
      metricsNamespace,
      logRetention,
      removalPolicy: c.removalPolicy,
      sourceMapsAtRuntime: c.sourceMapsAtRuntime,
    });

    // A change too large for one SQS message goes whole to the inbound bucket; the webhook may only put objects there.
    this.inboundBucket = new InboundBucket(this, 'InboundObjects', { expiryDays: c.webhook.inboundObjectExpiryDays, removalPolicy: c.removalPolicy });
    this.webhookApi.webhookFunction.bindBucketPut(this.inboundBucket.bucket, LARGE_VALUE_PREFIX, 'INBOUND_BUCKET_NAME');

    // A fallback due after an asynchronous 131047 (window closed) goes from the webhook to the outbound queue.
    this.webhookApi.webhookFunction.bindQueue(this.outbound.outbound.queue, 'OUTBOUND_QUEUE_URL');

    this.release = new ReleasePipeline(this, 'Releases', {
      table: this.statusTable.table,
      releaseQueue: this.releaseQueue,
      deadLetterQueue: this.outbound.deadLetter.queue,
      accessToken: secrets.accessToken,
      memoryMiB: c.consumer.memoryMiB,
      maxConcurrency: c.consumer.maxConcurrency,
      ratePerSecond: c.relay.releaseRatePerSecond,
      maxParkSeconds: c.relay.maxParkSeconds,
      humanReplyHoldSeconds: c.relay.humanReplyHoldSeconds,
      maxSendAttempts: c.relay.maxSendAttempts,
      graphApiBaseUrl: c.relay.graphApiBaseUrl,
      graphApiVersion: c.relay.graphApiVersion,
      reconnectSkewSeconds: c.relay.reconnectSkewSeconds,
      health: c.health,
      metricsNamespace,
      logRetention,
      removalPolicy: c.removalPolicy,
      sourceMapsAtRuntime: c.sourceMapsAtRuntime,
    });

    const sweeper = new OffboardedSweeper(this, 'OffboardedSweeper', {
      table: this.statusTable.table,
      every: c.alarms.sweepEvery,
      reconnectSkewSeconds: c.relay.reconnectSkewSeconds,
      accessToken: secrets.accessToken,
      releaseQueue: this.releaseQueue.queue,
      graphApiBaseUrl: c.relay.graphApiBaseUrl,
      graphApiVersion: c.relay.graphApiVersion,
      health: c.health,
      metricsNamespace,
      logRetention,
      logRemovalPolicy: c.removalPolicy,
      sourceMapsAtRuntime: c.sourceMapsAtRuntime,
    });

    const counters = new ClientCounters(this, 'ClientCounters', {
      table: this.statusTable.table,
      window: Duration.seconds(c.relay.counterWindowSeconds),
      metricsNamespace,
      logRetention,
      logRemovalPolicy: c.removalPolicy,
      sourceMapsAtRuntime: c.sourceMapsAtRuntime,
    });

    // Relay events: the functions that learn or do the facts publish them.
    this.relayEvents = new RelayEvents(this, 'RelayEvents', { removalPolicy: c.removalPolicy });
    const publishers = { webhook: this.webhookApi.webhookFunction, consumer: this.outbound.consumer, releaser: this.release.releaser } as const;
    for (const fn of Object.values(publishers)) fn.bindTopic(this.relayEvents.topic, 'RELAY_EVENTS_TOPIC_ARN');

    const redriveDlqs: Record<string, IQueue> = {};
    for (const [name, q] of [['Outbound', this.outbound.outbound], ['Delay', this.outbound.delay], ['InboundEvents', this.inboundEvents], ['Release', this.releaseQueue]] as const) {
      if (q.redriveDlq) redriveDlqs[name] = q.redriveDlq;
    }
    this.monitoring = new Monitoring(this, 'Monitoring', {
      metricsNamespace,
      api: this.webhookApi.api,
      functions: {
        Webhook: this.webhookApi.webhookFunction,
        Status: this.webhookApi.statusFunction,
        Consumer: this.outbound.consumer,
        Sweeper: sweeper.fn,
        Releaser: this.release.releaser,
        Tally: counters.fn,
      },
      releaseQueue: this.releaseQueue.queue,
      relayEvents: { topic: this.relayEvents.topic, publishers: Object.keys(publishers) as (keyof typeof publishers)[] },
      sweepEvery: c.alarms.sweepEvery,
      consumer: this.outbound.consumer,
      outboundQueue: this.outbound.outbound.queue,
      delayQueue: this.outbound.delay.queue,
      deadLetterQueue: this.outbound.deadLetter.queue,
      redriveDlqs,
      maxReceiveCount: c.queues.maxReceiveCount,
      ...(c.alarms.email ? { alarmEmail: c.alarms.email } : {}),
      outboundOldestMessageAge: c.alarms.outboundOldestMessageAge,
      offboardedTooLong: c.alarms.offboardedTooLong,
      heldClients: c.alarms.heldClients,
      webhook5xxPer5Minutes: c.alarms.webhook5xxPer5Minutes,
      signatureFailuresPer5Minutes: c.alarms.signatureFailuresPer5Minutes,
      removalPolicy: c.removalPolicy,
    });

    // What `npm run cli -- --stage <name>` reads besides the status URL and the outbound and dead-letter queue URLs.
    new CfnOutput(this, STACK_OUTPUTS.inboundEventsQueueUrl, { value: this.inboundEvents.queue.queueUrl, description: 'Inbound events (every webhook change) for the partner platform' });
    new CfnOutput(this, STACK_OUTPUTS.tableName, { value: this.statusTable.table.tableName, description: 'Client status, timeline and parked copies' });
    new CfnOutput(this, 'InboundBucketName', { value: this.inboundBucket.bucket.bucketName, description: 'Changes too large for one SQS message (valueRef on the inbound-events queue); consumers need s3:GetObject under inbound/' });
    new CfnOutput(this, STACK_OUTPUTS.region, { value: this.region, description: 'The region the stack runs in' });
  }
}
