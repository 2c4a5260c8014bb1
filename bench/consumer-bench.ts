import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { HttpCloudApi, SecretTokenProvider } from '../lambdas/adapters/cloud-api.js';
import { documentClient, DynamoClientStore } from '../lambdas/adapters/dynamo/client-store.js';
import { DynamoClientPhoneNumbers, DynamoSendLedger, DynamoStatusReader } from '../lambdas/adapters/dynamo/outbound-stores.js';
import { DynamoPhoneOwnership } from '../lambdas/adapters/dynamo/phone-ownership.js';
import { SqsOutboundQueues } from '../lambdas/adapters/sqs.js';
import { DynamoParkedStore } from '../lambdas/adapters/dynamo/release-stores.js';
import { orderKeyOf } from '../lambdas/core/status/client-status.js';
import { OutboundService, type OutboundRecord } from '../lambdas/core/outbound/outbound-service.js';
import { silentTelemetry } from '../lambdas/core/shared/telemetry.js';
import { createConsumerHandler } from '../lambdas/consumer/handler.js';
import type { CloudApiStandIn } from '../local/cloud-api-stand-in.js';
import { ensureQueue, ensureTable } from '../local/services.js';
import { pollOnce } from '../local/sqs-event-source.js';
import { median } from './measure.js';

export interface BenchServices {
  readonly dynamo: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly api: CloudApiStandIn;
}

const envelope = (wabaId: string, i: number) =>
  JSON.stringify({
    messageId: `bench-${randomUUID()}`,
    wabaId,
    phoneNumberId: `pn-${wabaId}`,
    payload: { messaging_product: 'whatsapp', to: `1555${String(i).padStart(7, '0')}`, type: 'text', text: { body: `message ${i}` } },
  });

/** What the floors read of a body (the envelopes `envelope` writes). */
interface FloorEnvelope {
  readonly messageId: string;
  readonly wabaId: string;
  readonly phoneNumberId: string;
  readonly payload: unknown;
}

const enqueue = async (sqs: SQSClient, queueUrl: string, bodies: readonly string[]) => {
  for (let i = 0; i < bodies.length; i += 10) {
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: bodies.slice(i, i + 10).map((b, j) => ({ Id: String(j), MessageBody: b })) }));
  }
};

const buildService = (s: BenchServices, tableName: string, delayUrl: string, dlqUrl: string) => {
  const doc = documentClient(s.dynamo);
  return new OutboundService({
    statuses: new DynamoStatusReader(doc, tableName),
    phones: new DynamoPhoneOwnership(doc, tableName),
    ledger: new DynamoSendLedger(doc, tableName, 30_000, 1),
    phoneNumbers: new DynamoClientPhoneNumbers(doc, tableName),
    queues: new SqsOutboundQueues(s.sqs, delayUrl, dlqUrl),
    cloudApi: new HttpCloudApi(s.api.url, 'v25.0', 5_000),
    tokens: new SecretTokenProvider(async () => 'bench-token'),
    telemetry: silentTelemetry,
    parked: new DynamoParkedStore(doc, tableName, 86_400),
    releases: { requestRelease: async () => undefined },
    parkDelaySchedule: [900],
    maxParkSeconds: 86_400,
    maxSendAttempts: 3,
    reconnectSkewMs: 300_000,
  });
};

const setup = async (s: BenchServices) => {
  const suffix = randomUUID().slice(0, 8);
  const tableName = `bench-${suffix}`;
  await ensureTable(s.dynamo, tableName, { stream: false });
  const q = async (n: string) => ensureQueue(s.sqs, { name: `${n}-${suffix}`, visibilityTimeoutSeconds: 60 });
  return { tableName, outbound: await q('outbound'), delay: await q('delay'), dlq: await q('dlq') };
};

export interface ThroughputResult {
  readonly messages: number;
  readonly consumerPerSecond: number;
  readonly floorPerSecond: number;
  /** floor / consumer: how many times slower the consumer is than the floor. */
  readonly ratio: number;
  /** consumer / floor: the share of the floor's throughput the consumer reaches (the budget's figure). */
  readonly shareOfFloor: number;
  /** Timed rounds per side (median reported) and each side's range over them. */
  readonly rounds: number;
  readonly consumerRange: readonly [number, number];
  readonly floorRange: readonly [number, number];
  /**
   * A second reference, not the budget's: the floor plus the DynamoDB requests any exactly-once consumer makes (one
   * strongly consistent read of the batch's clients, a conditional claim and a conditional confirmation per message),
   * written by hand without the relay's code. consumer / this says how much the relay's own code costs.
   */
  readonly exactlyOnceFloorPerSecond: number;
  readonly exactlyOnceFloorRange: readonly [number, number];
  readonly shareOfExactlyOnceFloor: number;
}

/**
 * Messages per second through the real consumer (fauxqs -> handler -> DynamoDB Local + Cloud API stand-in ->
 * delete), against the floor: the same stand-ins driven by a loop that only receives, posts and deletes.
 * Both use `pollers` concurrent loops on the same queue, batches of 10, and ask the queue for the same attributes.
 * Each side first drains one untimed round (JIT, DynamoDB Local's JVM, connections), then they alternate
 * (consumer, floor, consumer, ...) and the median of each is reported: the side measured first no longer pays for
 * the warm-up, and noise from a shared machine hits both.
 */
export const throughputBench = async (s: BenchServices, messages: number, pollers = 4, rounds = 3): Promise<ThroughputResult> => {
  const r = await setup(s);
  const handler = createConsumerHandler(async () => buildService(s, r.tableName, r.delay, r.dlq), silentTelemetry, () => false);
  const clients = Array.from({ length: 10 }, (_, i) => `bench-waba-${i}`);
  // New message ids every round: a message id already sent is acknowledged without a send.
  const bodiesFor = () => Array.from({ length: messages }, (_, i) => envelope(clients[i % clients.length] as string, i));

  const drainWith = async (poll: () => Promise<number>): Promise<number> => {
    let done = 0;
    const start = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: pollers }, async () => {
        for (let idle = 0; idle < 2 && done < messages; ) {
          const n = await poll();
          done += n;
          idle = n === 0 ? idle + 1 : 0;
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (done < messages) throw new Error(`only ${done} of ${messages} messages processed`);
    return messages / seconds;
  };

  const consumerRound = async (): Promise<number> => {
    const sentBefore = s.api.requests.length;
    await enqueue(s.sqs, r.outbound, bodiesFor());
    const perSecond = await drainWith(async () => {
      const res = await pollOnce(s.sqs, r.outbound, handler, { waitTimeSeconds: 0 });
      return res.received - res.failed;
    });
    if (s.api.requests.length - sentBefore !== messages) throw new Error('the consumer did not send every message exactly once');
    return perSecond;
  };
  /** The stand-in's send for one envelope, as the floors make it (the body the consumer would post). */
  const post = async (e: FloorEnvelope): Promise<{ messages?: { id?: string }[] }> => {
    const res = await fetch(`${s.api.url}/v25.0/${e.phoneNumberId}/messages`, {
      method: 'POST',
      headers: { authorization: 'Bearer bench', 'content-type': 'application/json' },
      body: JSON.stringify(e.payload),
    });
    return (await res.json()) as { messages?: { id?: string }[] };
  };
  /**
   * A floor round: receive ten as the event source does, hand the batch's envelopes to `handle`, delete them. Nothing
   * of the relay's code runs.
   */
  const floorRoundWith = (handle: (envelopes: readonly FloorEnvelope[]) => Promise<unknown>) => async (): Promise<number> => {
    await enqueue(s.sqs, r.outbound, bodiesFor());
    return drainWith(async () => {
      const out = await s.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: r.outbound, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'] }),
      );
      const msgs = out.Messages ?? [];
      if (msgs.length === 0) return 0;
      await handle(msgs.map((m) => JSON.parse(m.Body ?? '{}') as FloorEnvelope));
      await s.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: r.outbound, Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
      return msgs.length;
    });
  };
  const floorRound = floorRoundWith((envelopes) => Promise.all(envelopes.map(post)));
  const doc = documentClient(s.dynamo);
  const exactlyOnceRound = floorRoundWith(async (envelopes) => {
    const clientKeys = [...new Set(envelopes.map((e) => e.wabaId))].map((w) => ({ pk: `FLOOR#${w}`, sk: 'STATUS' }));
    await doc.send(new BatchGetCommand({ RequestItems: { [r.tableName]: { Keys: clientKeys, ConsistentRead: true } } }));
    await Promise.all(
      envelopes.map(async (e) => {
        const Key = { pk: `FLOOR#${e.wabaId}#${e.messageId}`, sk: 'SEND' };
        await doc.send(new UpdateCommand({ TableName: r.tableName, Key, UpdateExpression: 'SET #s = :sending', ConditionExpression: 'attribute_not_exists(#s)', ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':sending': 'SENDING' } }));
        const sent = await post(e);
        await doc.send(new UpdateCommand({ TableName: r.tableName, Key, UpdateExpression: 'SET #s = :sent, wamid = :w', ConditionExpression: '#s = :sending', ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':sent': 'SENT', ':sending': 'SENDING', ':w': sent.messages?.[0]?.id ?? '' } }));
      }),
    );
  });

  await consumerRound();
  await floorRound();
  await exactlyOnceRound();
  const consumer: number[] = [];
  const floor: number[] = [];
  const exactlyOnce: number[] = [];
  for (let i = 0; i < rounds; i++) {
    consumer.push(await consumerRound());
    floor.push(await floorRound());
    exactlyOnce.push(await exactlyOnceRound());
  }
  const consumerPerSecond = median(consumer);
  const floorPerSecond = median(floor);
  const exactlyOncePerSecond = median(exactlyOnce);
  const range = (xs: readonly number[]): [number, number] => [Math.round(Math.min(...xs)), Math.round(Math.max(...xs))];
  return {
    messages,
    consumerPerSecond: Math.round(consumerPerSecond),
    floorPerSecond: Math.round(floorPerSecond),
    ratio: Math.round((floorPerSecond / consumerPerSecond) * 100) / 100,
    shareOfFloor: Math.round((consumerPerSecond / floorPerSecond) * 100) / 100,
    rounds,
    consumerRange: range(consumer),
    floorRange: range(floor),
    exactlyOnceFloorPerSecond: Math.round(exactlyOncePerSecond),
    exactlyOnceFloorRange: range(exactlyOnce),
    shareOfExactlyOnceFloor: Math.round((consumerPerSecond / exactlyOncePerSecond) * 100) / 100,
  };
};

/** Counts requests per SDK command on a client (an SDK middleware: counted, not estimated). */
const countRequests = (client: DynamoDBClient | SQSClient) => {
  const counts = new Map<string, number>();
  const statusKeys = { n: 0 };
  type Next = (args: { input: unknown }) => Promise<unknown>;
  const stack = client.middlewareStack as unknown as {
    add(mw: (next: Next, context: { commandName?: string }) => Next, options: { step: 'initialize'; name: string }): void;
  };
  stack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName ?? 'unknown');
      counts.set(name, (counts.get(name) ?? 0) + 1);
      if (name === 'BatchGetItemCommand') {
        const items = (args.input as { RequestItems?: Record<string, { Keys?: unknown[] }> }).RequestItems ?? {};
        // Status items only (a batch reads its phone number owners in the same request).
        for (const t of Object.values(items)) {
          for (const k of (t.Keys ?? []) as { pk?: string | { S?: string } }[]) {
            const pk = typeof k.pk === 'string' ? k.pk : k.pk?.S;
            if (pk?.startsWith('CLIENT#')) statusKeys.n++;
          }
        }
      }
      return next(args);
    },
    { step: 'initialize', name: `benchCounter-${randomUUID()}` },
  );
  return {
    counts,
    statusKeys,
    reset: () => {
      counts.clear();
      statusKeys.n = 0;
    },
  };
};

const DYNAMO_READS = ['GetItemCommand', 'BatchGetItemCommand', 'QueryCommand'];
const DYNAMO_WRITES = ['PutItemCommand', 'UpdateItemCommand', 'BatchWriteItemCommand', 'DeleteItemCommand'];
const sum = (counts: Map<string, number>, names: readonly string[]) => names.reduce((a, n) => a + (counts.get(n) ?? 0), 0);

export interface RequestsResult {
  readonly scenario: string;
  readonly messages: number;
  readonly dynamoReadsPerMessage: number;
  readonly dynamoWritesPerMessage: number;
  readonly sqsRequestsPerMessage: number;
  /** Adding the event source's ReceiveMessage and DeleteMessageBatch for the batch. */
  readonly sqsRequestsPerMessageWithEventSource: number;
  readonly statusReadsPerDistinctClient: number;
}

/** Requests per message for one batch of 10, for the scenarios docs/performance.md documents. */
export const requestsBench = async (s: BenchServices): Promise<RequestsResult[]> => {
  const r = await setup(s);
  const dynamoCount = countRequests(s.dynamo);
  const sqsCount = countRequests(s.sqs);
  const service = buildService(s, r.tableName, r.delay, r.dlq);
  const store = new DynamoClientStore(documentClient(s.dynamo), r.tableName);
  const offboard = async (wabaId: string) => {
    await store.applyStatusEvent(wabaId, 'OFFBOARDED', {
      orderKey: orderKeyOf(Date.now(), 'bench'),
      event: 'ACCOUNT_OFFBOARDED',
      eventId: 'bench',
      eventTimeMs: Date.now(),
      appliedAt: new Date().toISOString(),
    });
  };
  const results: RequestsResult[] = [];
  const phones = new DynamoPhoneOwnership(documentClient(s.dynamo), r.tableName);
  const clientPhones = new DynamoClientPhoneNumbers(documentClient(s.dynamo), r.tableName);
  const scenario = async (name: string, wabaIds: readonly string[], attributes: (i: number) => Record<string, string> = () => ({})) => {
    const records: OutboundRecord[] = Array.from({ length: 10 }, (_, i) => ({
      id: `r${i}`,
      body: envelope(wabaIds[i % wabaIds.length] as string, i),
      attributes: attributes(i),
      fromDelayQueue: Object.keys(attributes(i)).length > 0,
    }));
    // Steady state: the owners of the phone numbers are known (a `messages` webhook or an earlier send taught them), and
    // so is each client's phone number (its first message recorded it).
    for (const w of wabaIds) await phones.learn(`pn-${w}`, w, 'webhook', Date.now());
    await clientPhones.record(wabaIds.map((w) => ({ wabaId: w, phoneNumberId: `pn-${w}` })), Date.now());
    dynamoCount.reset();
    sqsCount.reset();
    const out = await service.processBatch(records);
    if (out.failedIds.length > 0) throw new Error(`${name}: ${out.failedIds.length} records failed`);
    const n = records.length;
    const sqsOwn = [...sqsCount.counts.values()].reduce((a, b) => a + b, 0);
    results.push({
      scenario: name,
      messages: n,
      dynamoReadsPerMessage: sum(dynamoCount.counts, DYNAMO_READS) / n,
      dynamoWritesPerMessage: sum(dynamoCount.counts, DYNAMO_WRITES) / n,
      sqsRequestsPerMessage: sqsOwn / n,
      sqsRequestsPerMessageWithEventSource: (sqsOwn + 2) / n,
      statusReadsPerDistinctClient: dynamoCount.statusKeys.n / new Set(wabaIds).size,
    });
  };
  const one = ['bench-one'];
  const ten = Array.from({ length: 10 }, (_, i) => `bench-ten-${i}`);
  await scenario('sent, 1 client', one);
  await scenario('sent, 10 clients', ten);
  const offOne = ['bench-off-one'];
  const offTen = Array.from({ length: 10 }, (_, i) => `bench-off-ten-${i}`);
  for (const w of [...offOne, ...offTen]) await offboard(w);
  await scenario('parked (first hop), 1 client', offOne);
  await scenario('parked (first hop), 10 clients', offTen);
  const already = () => ({ 'relay-park-count': '3', 'relay-first-parked-at': new Date(Date.now() - 60_000).toISOString(), 'relay-send-attempts': '0' });
  await scenario('parked (later hop), 1 client', offOne, already);
  await scenario('parked (later hop), 10 clients', offTen, already);
  return results;
};
