import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** SQS's longest retention: dead-letter queues keep messages longer than any source queue. */
export const DLQ_RETENTION = Duration.days(14);

/** Fewest receives before a redrive: fewer would dead-letter messages over brief failures. */
const MIN_MAX_RECEIVE_COUNT = 5;

export interface RelayQueueProps {
  readonly retention: Duration;
  readonly visibilityTimeout?: Duration;
  readonly removalPolicy: RemovalPolicy;
  /** Gives the queue a redrive DLQ after this many receives; leave out for queues nobody consumes. */
  readonly maxReceiveCount?: number;
}

/** A queue with SSE-SQS encryption, TLS enforced, and (when consumed) a redrive DLQ with a longer retention. */
export class RelayQueue extends Construct {
  readonly queue: Queue;
  readonly redriveDlq: Queue | undefined;

  constructor(scope: Construct, id: string, props: RelayQueueProps) {
    super(scope, id);
    if (props.maxReceiveCount !== undefined && props.maxReceiveCount < MIN_MAX_RECEIVE_COUNT) {
      throw new Error(`${id}: maxReceiveCount must be at least ${MIN_MAX_RECEIVE_COUNT} so brief failures do not dead-letter messages`);
    }
    if (props.retention.toSeconds() > DLQ_RETENTION.toSeconds()) throw new Error(`${id}: retention above 14 days`);
    this.redriveDlq =
      props.maxReceiveCount === undefined
        ? undefined
        : new Queue(this, 'RedriveDlq', {
            retentionPeriod: DLQ_RETENTION,
            encryption: QueueEncryption.SQS_MANAGED,
            enforceSSL: true,
            removalPolicy: props.removalPolicy,
          });
    this.queue = new Queue(this, 'Queue', {
      retentionPeriod: props.retention,
      ...(props.visibilityTimeout ? { visibilityTimeout: props.visibilityTimeout } : {}),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy: props.removalPolicy,
      ...(this.redriveDlq && props.maxReceiveCount !== undefined
        ? { deadLetterQueue: { queue: this.redriveDlq, maxReceiveCount: props.maxReceiveCount } }
        : {}),
    });
  }
}
