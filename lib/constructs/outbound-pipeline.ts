import { CfnOutput, Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { RecursiveLoop } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEFAULTS } from '../../lambdas/core/shared/defaults.js';
import { parseDelaySchedule } from '../../lambdas/core/outbound/park-schedule.js';
import type { StageConfig } from '../stage-config.js';
import { probeEnvironment } from './probe-environment.js';
import { DLQ_RETENTION, RelayQueue } from './relay-queue.js';
import { RelayFunction } from './relay-function.js';

/** Lambda's guidance for SQS event sources: a visibility timeout of at least six times the function timeout. */
const VISIBILITY_TIMEOUT_FACTOR = 6;

export interface OutboundPipelineProps {
  readonly table: ITableV2;
  /** Where the consumer asks for a release when messages wait behind one that ended or stalled. */
  readonly releaseQueue: IQueue;
  readonly accessToken: ISecret;
  readonly timeout: Duration;
  readonly memoryMiB: number;
  readonly maxConcurrency: number;
  readonly batchSize: number;
  readonly retention: Duration;
  readonly maxReceiveCount: number;
  readonly parkDelaySchedule: string;
  readonly maxParkSeconds: number;
  readonly humanReplyHoldSeconds: number;
  readonly maxSendAttempts: number;
  readonly graphApiBaseUrl: string;
  readonly graphApiVersion: string;
  readonly reconnectSkewSeconds: number;
  /** Probe policy (stage config `health`): the consumer probes a client right after holding it. */
  readonly health: StageConfig['health'];
  readonly metricsNamespace: string;
  readonly logRetention: RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  readonly sourceMapsAtRuntime: boolean;
}

/**
 * Outbound queue -> consumer -> Cloud API, with the delay queue for parked and retried messages, the consumer's
 * dead-letter queue, and a redrive DLQ behind each consumed queue.
 */
export class OutboundPipeline extends Construct {
  readonly outbound: RelayQueue;
  readonly delay: RelayQueue;
  readonly deadLetter: RelayQueue;
  readonly consumer: RelayFunction;

  constructor(scope: Construct, id: string, props: OutboundPipelineProps) {
    super(scope, id);
    if (props.maxConcurrency < 2 || props.maxConcurrency > 1000) throw new Error('maxConcurrency must be 2-1000 (SQS event source limit)');
    if (props.batchSize < 1 || props.batchSize > 10) throw new Error('batchSize must be 1-10');
    parseDelaySchedule(props.parkDelaySchedule); // fail synth, not the first cold start
    const graphTimeoutMs = Math.min(DEFAULTS.graphApiTimeoutMs, Math.floor((props.timeout.toMilliseconds() * 2) / 3 / 2));

    const visibilityTimeout = Duration.seconds(props.timeout.toSeconds() * VISIBILITY_TIMEOUT_FACTOR);
    const consumed = { retention: props.retention, visibilityTimeout, removalPolicy: props.removalPolicy, maxReceiveCount: props.maxReceiveCount };
    this.outbound = new RelayQueue(this, 'Outbound', consumed);
    this.delay = new RelayQueue(this, 'Delay', consumed);
    this.deadLetter = new RelayQueue(this, 'DeadLetter', { retention: DLQ_RETENTION, removalPolicy: props.removalPolicy });
    Validations.of(this.deadLetter.queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This is the dead-letter queue of the relay itself (messages it gave up on, with a reason); operators read and redrive it, no function consumes it.',
    });

    this.consumer = new RelayFunction(this, 'ConsumerFunction', {
      name: 'consumer',
      description: 'Sends, parks or dead-letters outbound WhatsApp messages by client status',
      timeout: props.timeout,
      memoryMiB: props.memoryMiB,
      logRetention: props.logRetention,
      logRemovalPolicy: props.removalPolicy,
      sourceMapsAtRuntime: props.sourceMapsAtRuntime,
      metricsNamespace: props.metricsNamespace,
      // The park loop is SQS -> Lambda -> SQS by design; Lambda would otherwise stop it after 16 hops.
      recursiveLoop: RecursiveLoop.ALLOW,
      environment: {
        GRAPH_API_BASE_URL: props.graphApiBaseUrl,
        GRAPH_API_VERSION: props.graphApiVersion,
        GRAPH_API_TIMEOUT_MS: String(graphTimeoutMs),
        PARK_DELAY_SCHEDULE: props.parkDelaySchedule,
        MAX_PARK_SECONDS: String(props.maxParkSeconds),
        HUMAN_REPLY_HOLD_SECONDS: String(props.humanReplyHoldSeconds),
        MAX_SEND_ATTEMPTS: String(props.maxSendAttempts),
        RECONNECT_SKEW_SECONDS: String(props.reconnectSkewSeconds),
        ...probeEnvironment(props.health),
      },
    })
      .bindTable(props.table, { items: ['BatchGetItem', 'GetItem', 'UpdateItem', 'BatchWriteItem'] })
      .bindQueue(this.delay.queue, 'DELAY_QUEUE_URL')
      .bindQueue(this.deadLetter.queue, 'DEAD_LETTER_QUEUE_URL')
      .bindQueue(props.releaseQueue, 'RELEASE_QUEUE_URL')
      .bindSecret(props.accessToken, 'WHATSAPP_ACCESS_TOKEN_SECRET_ID');
    for (const q of [this.outbound, this.delay]) {
      this.consumer.consumeQueue(q.queue, { batchSize: props.batchSize, maxConcurrency: props.maxConcurrency });
    }

    new CfnOutput(scope, 'OutboundQueueUrl', { value: this.outbound.queue.queueUrl, description: 'Upstream systems enqueue outbound messages here' });
    new CfnOutput(scope, 'DeadLetterQueueUrl', { value: this.deadLetter.queue.queueUrl, description: 'Messages the relay gave up on, with the reason' });
  }
}
