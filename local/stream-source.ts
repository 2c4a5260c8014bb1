import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record,
} from '@aws-sdk/client-dynamodb-streams';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { MESSAGE_STREAM_FILTER } from '../lambdas/adapters/dynamo/message-stream.js';
import { localDynamo } from './services.js';

/**
 * The table's stream on this machine, as Lambda's DynamoDB event source would deliver it: the records the event
 * source's filter lets through (`MESSAGE_STREAM_FILTER`), in order per shard, in batches; a batch whose handler throws
 * is delivered again (the iterator does not move). DynamoDB Local serves streams; dynalite does not (`start` says so).
 */
export class LocalStreamSource {
  readonly #streams: DynamoDBStreamsClient;
  readonly #iterators = new Map<string, string | null>();
  #streamArn: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Passes run one after another (a drain and a scheduled pass never read one iterator twice). */
  #chain: Promise<unknown> = Promise.resolve();
  #stopped = false;

  constructor(
    private readonly endpoint: string,
    private readonly tableName: string,
    private readonly handler: (event: DynamoDBStreamEvent) => Promise<unknown>,
    private readonly onError: (error: unknown) => void,
    private readonly everyMs = 1000,
  ) {
    this.#streams = new DynamoDBStreamsClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  }

  /** False when the table has no stream (dynalite): nothing is polled. */
  async start(): Promise<boolean> {
    const dynamo = localDynamo(this.endpoint);
    try {
      this.#streamArn = (await dynamo.send(new DescribeTableCommand({ TableName: this.tableName }))).Table?.LatestStreamArn;
    } catch {
      this.#streamArn = undefined;
    } finally {
      dynamo.destroy();
    }
    if (!this.#streamArn) return false;
    this.#schedule();
    return true;
  }

  /** Delivers everything the stream holds now (tests: counters are read after this). */
  async drain(): Promise<void> {
    for (let round = 0; round < 50; round++) if ((await this.#serial()) === 0) return;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    // Every pass, scheduled or a drain's, is on the chain: the one in flight ends before the client goes.
    await this.#chain;
    this.#streams.destroy();
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.#serial()
        .catch(this.onError)
        .finally(() => this.#schedule());
    }, this.everyMs);
  }

  #serial(): Promise<number> {
    const next = this.#chain.then(() => this.#poll());
    this.#chain = next.catch(() => undefined);
    return next;
  }

  /** One pass over every shard; returns how many records were delivered. */
  async #poll(): Promise<number> {
    const arn = this.#streamArn;
    if (!arn) return 0;
    const shards = (await this.#streams.send(new DescribeStreamCommand({ StreamArn: arn }))).StreamDescription?.Shards ?? [];
    let delivered = 0;
    for (const shard of shards) {
      const id = shard.ShardId as string;
      let iterator = this.#iterators.get(id);
      if (iterator === null) continue; // a closed shard read to its end
      iterator ??= (await this.#streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: id, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
      if (!iterator) continue;
      const out = await this.#streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      const records = (out.Records ?? []).filter(passes).map(asLambdaRecord);
      if (records.length > 0) await this.handler({ Records: records }); // throws: the iterator stays, the batch comes again
      delivered += records.length;
      this.#iterators.set(id, out.NextShardIterator ?? null);
    }
    return delivered;
  }
}

const passes = (r: _Record): boolean =>
  (MESSAGE_STREAM_FILTER.eventNames as readonly string[]).includes(r.eventName ?? '') && (r.dynamodb?.Keys?.pk?.S ?? '').startsWith(MESSAGE_STREAM_FILTER.pkPrefix);

const asLambdaRecord = (r: _Record): DynamoDBRecord => ({ ...(r as DynamoDBRecord), eventSource: 'aws:dynamodb', awsRegion: 'us-east-1' });
