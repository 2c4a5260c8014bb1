import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { FilterCriteria, FilterRule, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { MESSAGE_STREAM_FILTER } from '../../lambdas/adapters/dynamo/message-stream.js';
import { RelayFunction } from './relay-function.js';

export interface ClientCountersProps {
  readonly table: ITableV2;
  /** How long the event source gathers changes before it calls the function: one counter write per client per call. */
  readonly window: Duration;
  readonly metricsNamespace: string;
  readonly logRetention: RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  readonly sourceMapsAtRuntime: boolean;
}

/**
 * The tally function on the table's stream: the client counters (`GET /clients/{wabaId}` `messages`), counted from the
 * message items' changes instead of written by the send path. It sees only writes to message items (the event source's
 * filter, which Lambda applies before it bills an invocation), gathers up to `window`, and writes one small item per
 * client per call. A failing batch is retried, then split; after a day a record is dropped (counters only).
 */
export class ClientCounters extends Construct {
  readonly fn: RelayFunction;

  constructor(scope: Construct, id: string, props: ClientCountersProps) {
    super(scope, id);
    const seconds = props.window.toSeconds();
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > 300) throw new Error(`${id}: the counter window must be 0-300 whole seconds`);
    this.fn = new RelayFunction(this, 'TallyFunction', {
      name: 'tally',
      description: "Counts each client's parked, sent and dead-lettered messages from the table's stream",
      timeout: Duration.seconds(60),
      memoryMiB: 256,
      logRetention: props.logRetention,
      logRemovalPolicy: props.logRemovalPolicy,
      sourceMapsAtRuntime: props.sourceMapsAtRuntime,
      metricsNamespace: props.metricsNamespace,
    }).bindTable(props.table, { items: ['UpdateItem'] });
    this.fn.addEventSource(
      new DynamoEventSource(props.table, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: 1000,
        maxBatchingWindow: props.window,
        retryAttempts: 10,
        bisectBatchOnError: true,
        maxRecordAge: Duration.days(1),
        parallelizationFactor: 1,
        filters: [
          FilterCriteria.filter({
            eventName: FilterRule.or(...MESSAGE_STREAM_FILTER.eventNames),
            dynamodb: { Keys: { pk: { S: FilterRule.beginsWith(MESSAGE_STREAM_FILTER.pkPrefix) } } },
          }),
        ],
      }),
    );
  }
}
