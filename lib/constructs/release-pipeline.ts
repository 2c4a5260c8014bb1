import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEFAULTS } from '../../lambdas/core/shared/defaults.js';
import type { RelayQueue } from './relay-queue.js';
import { RelayFunction } from './relay-function.js';
import { probeEnvironment } from './probe-environment.js';
import type { StageConfig } from '../stage-config.js';

export interface ReleasePipelineProps {
  readonly table: ITableV2;
  /** The release queue (created by the stack: the webhook and the consumer send to it too). */
  readonly releaseQueue: RelayQueue;
  readonly deadLetterQueue: IQueue;
  readonly accessToken: ISecret;
  readonly memoryMiB: number;
  readonly maxConcurrency: number;
  readonly ratePerSecond: number;
  readonly maxParkSeconds: number;
  readonly humanReplyHoldSeconds: number;
  readonly maxSendAttempts: number;
  readonly graphApiBaseUrl: string;
  readonly graphApiVersion: string;
  readonly reconnectSkewSeconds: number;
  /** Probe policy (stage config `health`): a refused send holds the client and probes it, as in the consumer. */
  readonly health: StageConfig['health'];
  readonly metricsNamespace: string;
  readonly logRetention: RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  readonly sourceMapsAtRuntime: boolean;
}

/** The release queue's visibility timeout: Lambda's guidance, six times the releaser's time limit. */
export const releaseVisibilityTimeout = (): Duration => Duration.seconds(DEFAULTS.releaserTimeoutSeconds * 6);

/**
 * Release queue -> releaser -> Cloud API: sends a client's parked messages, paced per phone number, the moment the
 * client may send again. The releaser reads and deletes parked copies, claims sends in the ledger, reserves pace slots,
 * records progress (the table), queues its own continuations (the release queue) and dead-letters what it gives up on.
 */
export class ReleasePipeline extends Construct {
  readonly releaser: RelayFunction;

  constructor(scope: Construct, id: string, props: ReleasePipelineProps) {
    super(scope, id);
    if (props.ratePerSecond < 1 || props.ratePerSecond > 80) throw new Error('ratePerSecond must be 1-80');
    const timeout = Duration.seconds(DEFAULTS.releaserTimeoutSeconds);
    this.releaser = new RelayFunction(this, 'ReleaserFunction', {
      name: 'releaser',
      description: "Releases a client's parked WhatsApp messages, paced per phone number, when it may send again",
      timeout,
      memoryMiB: props.memoryMiB,
      logRetention: props.logRetention,
      logRemovalPolicy: props.removalPolicy,
      sourceMapsAtRuntime: props.sourceMapsAtRuntime,
      metricsNamespace: props.metricsNamespace,
      environment: {
        GRAPH_API_BASE_URL: props.graphApiBaseUrl,
        GRAPH_API_VERSION: props.graphApiVersion,
        GRAPH_API_TIMEOUT_MS: String(Math.min(DEFAULTS.graphApiTimeoutMs, 10_000)),
        MAX_PARK_SECONDS: String(props.maxParkSeconds),
        HUMAN_REPLY_HOLD_SECONDS: String(props.humanReplyHoldSeconds),
        MAX_SEND_ATTEMPTS: String(props.maxSendAttempts),
        RECONNECT_SKEW_SECONDS: String(props.reconnectSkewSeconds),
        RELEASE_RATE_PER_SECOND: String(props.ratePerSecond),
        ...probeEnvironment(props.health),
      },
    })
      .bindTable(props.table, { items: ['GetItem', 'BatchGetItem', 'UpdateItem', 'Query', 'BatchWriteItem'] })
      .bindQueue(props.releaseQueue.queue, 'RELEASE_QUEUE_URL')
      .bindQueue(props.deadLetterQueue, 'DEAD_LETTER_QUEUE_URL')
      .bindSecret(props.accessToken, 'WHATSAPP_ACCESS_TOKEN_SECRET_ID')
      .consumeQueue(props.releaseQueue.queue, { batchSize: 10, maxConcurrency: props.maxConcurrency });
  }
}
