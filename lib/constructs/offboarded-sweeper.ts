import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { OFFBOARDED_INDEX } from '../../lambdas/adapters/dynamo/table.js';
import { RelayFunction } from './relay-function.js';

export interface OffboardedSweeperProps {
  readonly table: ITableV2;
  readonly every: Duration;
  readonly reconnectSkewSeconds: number;
  readonly metricsNamespace: string;
  readonly logRetention: RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  readonly sourceMapsAtRuntime: boolean;
}

/**
 * A scheduled function that counts offboarded clients and measures the longest offboarding (metrics
 * ClientsOffboarded and ClientOffboardedSeconds) from the table's sparse offboarded index, so a client that stays
 * offboarded raises an alarm even when it has no message waiting.
 */
export class OffboardedSweeper extends Construct {
  readonly fn: RelayFunction;
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: OffboardedSweeperProps) {
    super(scope, id);
    if (props.every.toMinutes() < 1) throw new Error(`${id}: sweep at most once a minute`);
    this.fn = new RelayFunction(this, 'SweeperFunction', {
      name: 'sweeper',
      description: 'Counts offboarded clients and the longest offboarding',
      timeout: Duration.seconds(60),
      memoryMiB: 256,
      logRetention: props.logRetention,
      logRemovalPolicy: props.logRemovalPolicy,
      sourceMapsAtRuntime: props.sourceMapsAtRuntime,
      metricsNamespace: props.metricsNamespace,
      environment: { RECONNECT_SKEW_SECONDS: String(props.reconnectSkewSeconds) },
    }).bindTable(props.table, { queryIndex: OFFBOARDED_INDEX, items: ['UpdateItem'] });
    this.rule = new Rule(this, 'Schedule', { schedule: Schedule.rate(props.every), description: 'coexistence-relay offboarded sweep' });
    this.rule.addTarget(new LambdaFunction(this.fn, { retryAttempts: 0 }));
  }
}
