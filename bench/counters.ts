import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';

/**
 * What a run costs in AWS terms, counted where it happens: SQS requests and DynamoDB capacity units by SDK middleware
 * on the clients the real code uses, Lambda invocations and their duration by a wrapper around the real handlers.
 */
export interface UsageSnapshot {
  /** SQS requests by command, without ReceiveMessage calls that returned nothing (idle polling: a fixed cost). */
  readonly sqs: Readonly<Record<string, number>>;
  readonly sqsRequests: number;
  /** ReceiveMessage calls that returned no message. */
  readonly emptyReceives: number;
  /** SNS publish requests as billed: every 64 KB of a Publish or PublishBatch request's messages is one request. */
  readonly snsRequests: number;
  /** DynamoDB read and write request units (on-demand): DynamoDB Local's consumed capacity plus what it leaves out. */
  readonly readUnits: number;
  readonly writeUnits: number;
  /** Lambda invocations and their billed duration (whole milliseconds, rounded up per invocation) by function. */
  readonly lambda: Readonly<Record<string, { readonly invocations: number; readonly billedMs: number }>>;
}

type Next = (args: { input: Record<string, unknown> }) => Promise<{ output?: Record<string, unknown> }>;
type Stack = { add(mw: (next: Next, context: { commandName?: string }) => Next, options: { step: 'initialize'; name: string }): void };

const READS = new Set(['GetItemCommand', 'BatchGetItemCommand', 'QueryCommand', 'ScanCommand', 'TransactGetItemsCommand']);
const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'BatchWriteItemCommand', 'TransactWriteItemsCommand']);

interface Capacity {
  readonly CapacityUnits?: number;
  readonly ReadCapacityUnits?: number;
  readonly WriteCapacityUnits?: number;
}

/**
 * Read units for the keys a BatchGetItem asked for and did not find: AWS bills a read of an item that does not exist as
 * a read of a small item (1 unit strongly consistent, 0.5 eventually); DynamoDB Local reports nothing for such keys in
 * a BatchGetItem (for a GetItem it reports the unit). Keys returned unprocessed were not read.
 */
const absentKeyUnits = (name: string, input: Record<string, unknown>, output: Record<string, unknown> | undefined): number => {
  const unit = (consistent: unknown) => (consistent === true ? 1 : 0.5);
  if (name !== 'BatchGetItemCommand') return 0;
  const requested = (input.RequestItems ?? {}) as Record<string, { Keys?: unknown[]; ConsistentRead?: boolean }>;
  const responses = (output?.Responses ?? {}) as Record<string, unknown[]>;
  const unprocessed = (output?.UnprocessedKeys ?? {}) as Record<string, { Keys?: unknown[] }>;
  let units = 0;
  for (const [table, r] of Object.entries(requested)) {
    const absent = (r.Keys?.length ?? 0) - (responses[table]?.length ?? 0) - (unprocessed[table]?.Keys?.length ?? 0);
    units += Math.max(0, absent) * unit(r.ConsistentRead);
  }
  return units;
};

const itemsOf = (input: Record<string, unknown>): number => {
  const batch = (input.RequestItems ?? {}) as Record<string, { Keys?: unknown[] } | unknown[]>;
  const transact = (input.TransactItems ?? []) as unknown[];
  let n = transact.length;
  for (const v of Object.values(batch)) n += Array.isArray(v) ? v.length : (v.Keys?.length ?? 0);
  return Math.max(1, n);
};

/** Counts usage on the clients and handlers given to it; `reset` starts a new window, `snapshot` reads it. */
export class UsageCounter {
  #sqs = new Map<string, number>();
  #emptyReceives = 0;
  #sns = 0;
  #read = 0;
  #write = 0;
  #lambda = new Map<string, { invocations: number; billedMs: number }>();

  /** Counts every request the client sends (one ARN lookup per queue and process is left out: Lambda knows its queue). */
  watchSqs(client: SQSClient): void {
    (client.middlewareStack as unknown as Stack).add(
      (next, context) => async (args) => {
        const name = String(context.commandName ?? 'unknown');
        const out = await next(args);
        if (name === 'GetQueueAttributesCommand') return out;
        if (name === 'ReceiveMessageCommand' && ((out.output?.Messages as unknown[] | undefined)?.length ?? 0) === 0) this.#emptyReceives++;
        else this.#sqs.set(name, (this.#sqs.get(name) ?? 0) + 1);
        return out;
      },
      { step: 'initialize', name: `benchSqsUsage-${randomUUID()}` },
    );
  }

  /** Counts SNS publishing as SNS bills it: per 64 KB chunk of the messages of each Publish / PublishBatch request. */
  watchSns(client: { middlewareStack: unknown }): void {
    (client.middlewareStack as unknown as Stack).add(
      (next, context) => async (args) => {
        const name = String(context.commandName ?? 'unknown');
        const out = await next(args);
        const input = args.input as { Message?: string; PublishBatchRequestEntries?: { Message?: string }[] };
        const messages = name === 'PublishCommand' ? [input.Message ?? ''] : name === 'PublishBatchCommand' ? (input.PublishBatchRequestEntries ?? []).map((e) => e.Message ?? '') : null;
        if (messages) this.#sns += Math.max(1, Math.ceil(messages.reduce((n, m) => n + Buffer.byteLength(m), 0) / 65_536));
        return out;
      },
      { step: 'initialize', name: `benchSnsUsage-${randomUUID()}` },
    );
  }

  /**
   * Asks DynamoDB for the capacity every request consumed (ReturnConsumedCapacity TOTAL) and adds it up. Where DynamoDB
   * Local reports less than AWS bills, it adds the difference: a conditional write that fails (one write unit per item;
   * every item here is < 1 KB) and a read of a key that does not exist ({@link absentKeyUnits}).
   */
  watchDynamo(client: DynamoDBClient): void {
    (client.middlewareStack as unknown as Stack).add(
      (next, context) => async (args) => {
        const name = String(context.commandName ?? 'unknown');
        const kind = READS.has(name) ? 'read' : WRITES.has(name) ? 'write' : null;
        if (kind === null) return next(args);
        try {
          const out = await next({ ...args, input: { ...args.input, ReturnConsumedCapacity: 'TOTAL' } });
          const raw = out.output?.ConsumedCapacity as Capacity | Capacity[] | undefined;
          for (const c of raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]) {
            if (c.ReadCapacityUnits !== undefined || c.WriteCapacityUnits !== undefined) {
              this.#read += c.ReadCapacityUnits ?? 0;
              this.#write += c.WriteCapacityUnits ?? 0;
            } else if (kind === 'read') this.#read += c.CapacityUnits ?? 0;
            else this.#write += c.CapacityUnits ?? 0;
          }
          if (kind === 'read') this.#read += absentKeyUnits(name, args.input, out.output);
          return out;
        } catch (error) {
          if (kind === 'write') this.#write += itemsOf(args.input);
          throw error;
        }
      },
      { step: 'initialize', name: `benchDynamoUsage-${randomUUID()}` },
    );
  }

  /** The handler, timed: each invocation is billed as Lambda bills it (duration rounded up to the millisecond). */
  timed<A extends unknown[], R>(fn: string, handler: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return async (...args: A) => {
      const start = process.hrtime.bigint();
      try {
        return await handler(...args);
      } finally {
        const ms = Math.ceil(Number(process.hrtime.bigint() - start) / 1e6);
        const l = this.#lambda.get(fn) ?? { invocations: 0, billedMs: 0 };
        this.#lambda.set(fn, { invocations: l.invocations + 1, billedMs: l.billedMs + ms });
      }
    };
  }

  reset(): void {
    this.#sqs = new Map();
    this.#emptyReceives = 0;
    this.#sns = 0;
    this.#read = 0;
    this.#write = 0;
    this.#lambda = new Map();
  }

  snapshot(): UsageSnapshot {
    const sqs = Object.fromEntries(this.#sqs);
    return {
      sqs,
      sqsRequests: Object.values(sqs).reduce((a, b) => a + b, 0),
      emptyReceives: this.#emptyReceives,
      snsRequests: this.#sns,
      readUnits: this.#read,
      writeUnits: this.#write,
      lambda: Object.fromEntries([...this.#lambda].map(([k, v]) => [k, { ...v }])),
    };
  }
}
