import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, LoggingFormat, RecursiveLoop, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { RELAY_BUNDLING } from '../bundling.js';
import { type LambdaName, lambdaEntry } from '../lambda-entry.js';

export interface RelayFunctionProps {
  /** Which function: picks the entry module and is the Powertools service name. */
  readonly name: LambdaName;
  readonly description: string;
  readonly timeout: Duration;
  readonly memoryMiB: number;
  readonly logRetention: RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  readonly metricsNamespace: string;
  /** Plain settings (numbers, URLs). Tables, queues and secrets come in through the bind methods. */
  readonly environment?: Readonly<Record<string, string>>;
  readonly recursiveLoop?: RecursiveLoop;
  /** Reserved concurrency: the function's ceiling and its own share of the account pool. None: unreserved. */
  readonly reservedConcurrency?: number;
  /** Sets NODE_OPTIONS=--enable-source-maps (readable stack traces; costs cold-start time). */
  readonly sourceMapsAtRuntime: boolean;
}

/** The DynamoDB actions a function may be granted on the table. */
export type TableAction = 'GetItem' | 'PutItem' | 'UpdateItem' | 'Query' | 'BatchGetItem' | 'BatchWriteItem';

export interface TableAccess {
  /** Actions on the table's items. */
  readonly items?: readonly TableAction[];
  /** An index the function queries (dynamodb:Query on that index only). */
  readonly queryIndex?: string;
}

export interface QueueConsumption {
  readonly batchSize: number;
  /** Event source mapping MaximumConcurrency (2-1000). */
  readonly maxConcurrency: number;
}

/**
 * Every function of the relay: Node.js 22 on arm64, bundled with `RELAY_BUNDLING`, JSON logs to its own log group
 * with a retention, active tracing, and a role that holds exactly what the bind methods grant: each binds a
 * resource by putting its name, URL or ARN into the environment and allowing only the named actions on it.
 */
export class RelayFunction extends NodejsFunction {
  /** Statements by their action list: binding a second resource for the same actions widens one statement. */
  private readonly statements = new Map<string, PolicyStatement>();

  constructor(scope: Construct, id: string, props: RelayFunctionProps) {
    if (props.memoryMiB < 128 || props.memoryMiB > 10_240) throw new Error(`${id}: memoryMiB must be 128-10240`);
    if (props.reservedConcurrency !== undefined && (!Number.isInteger(props.reservedConcurrency) || props.reservedConcurrency < 1)) {
      throw new Error(`${id}: reservedConcurrency must be a whole number of at least 1`);
    }
    const logGroup = new LogGroup(scope, `${id}Logs`, { retention: props.logRetention, removalPolicy: props.logRemovalPolicy });
    // Our own role instead of AWSLambdaBasicExecutionRole: log writes to this function's log group only.
    const role = new Role(scope, `${id}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);
    super(scope, id, {
      role,
      entry: lambdaEntry(props.name),
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      timeout: props.timeout,
      memorySize: props.memoryMiB,
      logGroup,
      loggingFormat: LoggingFormat.JSON,
      tracing: Tracing.ACTIVE,
      recursiveLoop: props.recursiveLoop ?? RecursiveLoop.TERMINATE,
      ...(props.reservedConcurrency !== undefined ? { reservedConcurrentExecutions: props.reservedConcurrency } : {}),
      environment: {
        ...(props.sourceMapsAtRuntime ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
        ...props.environment,
        POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace,
        POWERTOOLS_SERVICE_NAME: props.name,
      },
      bundling: RELAY_BUNDLING,
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'Only xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing) use "*": X-Ray supports no resource-level permissions for them.',
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Node.js 22 is the chosen, tested runtime (the code must also run on Node 20 locally); moving to a newer runtime is a deliberate, tested change.',
    });
  }

  /** The table's name in `envName`; `access.queryIndex` is granted before the item actions. */
  bindTable(table: ITableV2, access: TableAccess, envName = 'TABLE_NAME'): this {
    this.addEnvironment(envName, table.tableName);
    if (access.queryIndex) this.allow(['dynamodb:Query'], `${table.tableArn}/index/${access.queryIndex}`);
    if (access.items?.length) this.allow(access.items.map((a) => `dynamodb:${a}`), table.tableArn);
    return this;
  }

  /** A queue the function sends to: its URL in `envName`, sqs:SendMessage on it. */
  bindQueue(queue: IQueue, envName: string): this {
    this.addEnvironment(envName, queue.queueUrl);
    this.allow(['sqs:SendMessage'], queue.queueArn);
    return this;
  }

  /**
   * A topic the function publishes to: its ARN in `envName`, sns:Publish on it, and for an encrypted topic the two key
   * actions SNS needs from a publisher (kms:GenerateDataKey, kms:Decrypt) on that key only.
   */
  bindTopic(topic: ITopic, envName: string): this {
    this.addEnvironment(envName, topic.topicArn);
    this.allow(['sns:Publish'], topic.topicArn);
    if (topic.masterKey) this.allow(['kms:Decrypt', 'kms:GenerateDataKey'], topic.masterKey.keyArn);
    return this;
  }

  /** A bucket the function writes objects to: its name in `envName`, s3:PutObject on keys under `prefix` only. */
  bindBucketPut(bucket: IBucket, prefix: string, envName: string): this {
    this.addEnvironment(envName, bucket.bucketName);
    this.allow(['s3:PutObject'], bucket.arnForObjects(`${prefix}*`));
    const stack = Stack.of(this);
    const bucketId = stack.resolve(stack.getLogicalId(bucket.node.defaultChild as CfnElement)) as string;
    if (this.role) {
      Validations.of(this.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${prefix}*]`,
        reason: 'Object keys are made per change (inbound/<wabaId>/<dedupeId>.json); the wildcard is the key prefix of one bucket, for s3:PutObject only.',
      });
    }
    return this;
  }

  /** A secret the function reads: its ARN in `envName` (never the value), secretsmanager:GetSecretValue on it. */
  bindSecret(secret: ISecret, envName: string): this {
    this.addEnvironment(envName, secret.secretArn);
    this.allow(['secretsmanager:GetSecretValue'], secret.secretArn);
    return this;
  }

  /** A queue that invokes the function, with partial batch responses (the event source grants the receive actions). */
  consumeQueue(queue: IQueue, consumption: QueueConsumption): this {
    this.addEventSource(new SqsEventSource(queue, { ...consumption, reportBatchItemFailures: true }));
    return this;
  }

  private allow(actions: readonly string[], resource: string): void {
    const key = actions.join(' ');
    const existing = this.statements.get(key);
    if (existing) {
      existing.addResources(resource);
      return;
    }
    const statement = new PolicyStatement({ actions: [...actions], resources: [resource] });
    this.statements.set(key, statement);
    this.addToRolePolicy(statement);
  }
}
