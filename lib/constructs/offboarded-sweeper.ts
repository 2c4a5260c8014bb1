import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { OFFBOARDED_INDEX } from '../../lambdas/adapters/dynamo/table.js';
import type { StageConfig } from '../stage-config.js';
import { RelayFunction } from './relay-function.js';
import { probeEnvironment } from './probe-environment.js';

export interface OffboardedSweeperProps {
  readonly table: ITableV2;
  readonly every: Duration;
  readonly reconnectSkewSeconds: number;
  /** The Cloud API access tokens: probes read a number with its client's token. */
  readonly accessToken: ISecret;
  /** A can-send probe asks for the client's parked messages to be released. */
  readonly releaseQueue: IQueue;
  readonly graphApiBaseUrl: string;
  readonly graphApiVersion: string;
  /** Probe policy and when an offboarding counts as long (stage config `health`). */
  readonly health: StageConfig['health'];
  readonly metricsNamespace: string;
  readonly logRetention: RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  readonly sourceMapsAtRuntime: boolean;
}

/**
 * A scheduled function that counts offboarded and held clients and measures the longest offboarding (metrics
 * ClientsOffboarded, ClientsHeld and ClientOffboardedSeconds) from the table's sparse offboarded index, so a client that
 * stays offboarded raises an alarm even when it has no message waiting. It also probes held clients on their backoff
 * and clients offboarded longer than `health.staleOffboardingSeconds` (GET on the phone number node with the client's
 * token; metric Probes), and records the answer on the client.
 */
export class OffboardedSweeper extends Construct {
  readonly fn: RelayFunction;
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: OffboardedSweeperProps) {
    super(scope, id);
    if (props.every.toMinutes() < 1) throw new Error(`${id}: sweep at most once a minute`);
    this.fn = new RelayFunction(this, 'SweeperFunction', {
      name: 'sweeper',
      description: 'Counts offboarded and held clients, the longest offboarding; probes held and long-offboarded numbers',
      timeout: Duration.seconds(120),
      memoryMiB: 256,
      logRetention: props.logRetention,
      logRemovalPolicy: props.logRemovalPolicy,
      sourceMapsAtRuntime: props.sourceMapsAtRuntime,
      metricsNamespace: props.metricsNamespace,
      environment: {
        RECONNECT_SKEW_SECONDS: String(props.reconnectSkewSeconds),
        GRAPH_API_BASE_URL: props.graphApiBaseUrl,
        GRAPH_API_VERSION: props.graphApiVersion,
        // Probes answer quickly or not at all; a run probes at most SWEEPER_PROBES_PER_RUN numbers, four at a time.
        GRAPH_API_TIMEOUT_MS: '5000',
        ...probeEnvironment(props.health),
        STALE_OFFBOARDING_SECONDS: String(props.health.staleOffboardingSeconds),
        SWEEPER_PROBES_PER_RUN: String(props.health.sweeperProbesPerRun),
      },
    })
      // Query the sparse index; UpdateItem to unlist a client and to take and record a probe turn (conditional writes).
      .bindTable(props.table, { queryIndex: OFFBOARDED_INDEX, items: ['UpdateItem'] })
      .bindSecret(props.accessToken, 'WHATSAPP_ACCESS_TOKEN_SECRET_ID')
      .bindQueue(props.releaseQueue, 'RELEASE_QUEUE_URL');
    this.rule = new Rule(this, 'Schedule', { schedule: Schedule.rate(props.every), description: 'coexistence-relay offboarded sweep' });
    this.rule.addTarget(new LambdaFunction(this.fn, { retryAttempts: 0 }));
  }
}
