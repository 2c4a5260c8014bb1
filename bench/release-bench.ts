/**
 * Release figures (issue 11), measured through the real code: the webhook handler, the consumer and the releaser
 * handlers wired as their entry points wire them, over DynamoDB Local and fauxqs, sending to the Cloud API stand-in
 * over HTTP. Queues are polled with `pollOnce`, the loop the local pipeline's event sources run, so every figure
 * includes the queue hops a deployed stack has (webhook -> release queue -> releaser; outbound queue -> consumer).
 */
import { randomUUID } from 'node:crypto';
import { type SendMessageBatchRequestEntry, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent } from 'aws-lambda';
import { HttpCloudApi, SecretTokenProvider } from '../lambdas/adapters/cloud-api.js';
import { DynamoClientStore, documentClient } from '../lambdas/adapters/dynamo/client-store.js';
import { DynamoClientPhoneNumbers, DynamoSendLedger, DynamoStatusReader } from '../lambdas/adapters/dynamo/outbound-stores.js';
import { DynamoMessageOutcomeStore } from '../lambdas/adapters/dynamo/message-outcome-store.js';
import { DynamoPhoneOwnership } from '../lambdas/adapters/dynamo/phone-ownership.js';
import { SdkSnsBatchSender } from '../lambdas/adapters/sns-batch.js';
import { SnsRelayEventPublisher } from '../lambdas/adapters/sns-events.js';
import { DynamoPacer, DynamoParkedStore, DynamoReleaseStore } from '../lambdas/adapters/dynamo/release-stores.js';
import { isQueueArnOf, SqsInboundEventSink, SqsOutboundQueues, sendBatches } from '../lambdas/adapters/sqs.js';
import { SqsReleaseQueue } from '../lambdas/adapters/sqs-release.js';
import { createConsumerHandler } from '../lambdas/consumer/handler.js';
import { DEFAULTS } from '../lambdas/core/shared/defaults.js';
import { OutboundService } from '../lambdas/core/outbound/outbound-service.js';
import { CallWindow, maxPerWindow, paceIntervalMs } from '../lambdas/core/release/pacing.js';
import { parkDelay, parseDelaySchedule } from '../lambdas/core/outbound/park-schedule.js';
import { silentTelemetry } from '../lambdas/core/shared/telemetry.js';
import { ReleaseService } from '../lambdas/core/release/release.js';
import { signBody } from '../lambdas/core/webhook/signature.js';
import { createReleaserHandler } from '../lambdas/releaser/handler.js';
import { createWebhookHandler } from '../lambdas/webhook/handler.js';
import type { CloudApiRequest, CloudApiStandIn } from '../local/cloud-api-stand-in.js';
import { lambdaContext } from '../local/lambda-context.js';
import { ensureQueue, ensureTable, ensureTopic, localDynamo, localSns, localSqs } from '../local/services.js';
import { pollOnce, type SqsHandler } from '../local/sqs-event-source.js';
import { type UsageSnapshot, UsageCounter } from './counters.js';
import { benchEvent } from './events.js';
import { percentile } from './measure.js';

const SECRET = 'bench-release-secret';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Pace figures from call arrival times: the drain rate, and the most calls in any one-second window. */
export const paceFigures = (timesMs: readonly number[]): { readonly perSecond: number; readonly maxInAnySecond: number } => {
  const t = [...timesMs].sort((a, b) => a - b);
  const span = t.length > 1 ? ((t[t.length - 1] as number) - (t[0] as number)) / 1000 : 0;
  return { perSecond: span > 0 ? Math.round(((t.length - 1) / span) * 100) / 100 : 0, maxInAnySecond: maxPerWindow(t) };
};

/**
 * Recipients whose messages arrived in the order they were enqueued: `expected` maps a recipient to its message
 * texts in enqueue order; `arrived` is what the stand-in received, in arrival order. A recipient with a message
 * missing, repeated or out of order counts as not in order.
 */
export const recipientsInOrder = (expected: ReadonlyMap<string, readonly string[]>, arrived: readonly { readonly to: string; readonly text: string }[]) => {
  const got = new Map<string, string[]>();
  for (const a of arrived) got.set(a.to, [...(got.get(a.to) ?? []), a.text]);
  let inOrder = 0;
  for (const [to, texts] of expected) {
    const g = got.get(to) ?? [];
    if (g.length === texts.length && g.every((t, i) => t === texts[i])) inOrder++;
  }
  return { inOrder, recipients: expected.size };
};

/**
 * Checks of the default park schedule in the first hour a message is parked: each hop's expected delay (its jitter
 * averaged), the last hop counted in part.
 */
export const hopsPerHour = (scheduleText: string): number => {
  const schedule = parseDelaySchedule(scheduleText);
  const grid = 1000;
  let t = 0;
  for (let hop = 0; hop < 10_000; hop++) {
    let mean = 0;
    for (let i = 0; i < grid; i++) mean += parkDelay(schedule, hop, () => (i + 0.5) / grid);
    mean = Math.max(1, mean / grid);
    if (t + mean >= 3600) return Math.round((hop + (3600 - t) / mean) * 100) / 100;
    t += mean;
  }
  return 10_000;
};

const textOf = (r: CloudApiRequest): string => String((r.body.text as { body?: string } | undefined)?.body);

interface Rig {
  readonly sqs: SQSClient;
  readonly usage: UsageCounter;
  /** The webhook's own requests (its own clients), also counted in `usage`. */
  readonly webhookUsage: UsageCounter;
  readonly tableName: string;
  readonly queues: { readonly outbound: string; readonly delay: string; readonly dlq: string; readonly release: string; readonly inbound: string };
  readonly parked: DynamoParkedStore;
  /** Where the pace is kept, per release call: the slot the pacer gave, and when the releaser started the call. */
  readonly paced: { readonly slots: { phone: string; at: number }[]; readonly starts: { phone: string; text: string; at: number }[] };
  readonly webhook: (body: Buffer) => Promise<void>;
  readonly consumer: SqsHandler;
  /** A releaser instance: its own service (own call log and pacer object), as a separate Lambda instance has. */
  releaser(): SqsHandler;
  /** Polls a queue until stopped: the local event source (`pollOnce`, 1 s long polls). */
  poll(url: string, handler: SqsHandler, batchSize?: number): { stop(): Promise<void> };
  close(): void;
}

/** Wires the functions as `lambdas/<fn>/index.ts` does, on a fresh table and fresh queues, with counted clients. */
const rig = async (endpoints: { dynamo: string; sqs: string }, apiUrl: string): Promise<Rig> => {
  const usage = new UsageCounter();
  const webhookUsage = new UsageCounter();
  const dynamo = localDynamo(endpoints.dynamo);
  const sqs = localSqs(endpoints.sqs);
  const sns = localSns(endpoints.sqs);
  usage.watchDynamo(dynamo);
  usage.watchSqs(sqs);
  usage.watchSns(sns);
  // The webhook on clients of its own, as its Lambda has: its usage apart from what its webhooks set off.
  const hook = { dynamo: localDynamo(endpoints.dynamo), sqs: localSqs(endpoints.sqs), sns: localSns(endpoints.sqs) };
  for (const u of [usage, webhookUsage]) {
    u.watchDynamo(hook.dynamo);
    u.watchSqs(hook.sqs);
    u.watchSns(hook.sns);
  }
  const hookDoc = documentClient(hook.dynamo);
  const doc = documentClient(dynamo);
  const suffix = randomUUID().slice(0, 8);
  const tableName = `bench-release-${suffix}`;
  await ensureTable(dynamo, tableName, { stream: false });
  const q = (n: string) => ensureQueue(sqs, { name: `${n}-${suffix}`, visibilityTimeoutSeconds: 120 });
  const queues = { outbound: await q('outbound'), delay: await q('delay'), dlq: await q('dlq'), release: await q('release'), inbound: await q('inbound') };
  // Relay events as the stack publishes them (each function's events of one unit of work in PublishBatch requests).
  const topicArn = await ensureTopic(sns, `bench-events-${suffix}`);
  const events = new SnsRelayEventPublisher(new SdkSnsBatchSender(sns), topicArn);
  const parked = new DynamoParkedStore(doc, tableName, DEFAULTS.maxParkSeconds + 86_400);
  const releases = new SqsReleaseQueue(sqs, queues.release);
  const tokens = new SecretTokenProvider(async () => 'bench-token');
  const cloudApi = new HttpCloudApi(apiUrl, DEFAULTS.graphApiVersion, DEFAULTS.graphApiTimeoutMs);
  const ledgerLeaseMs = DEFAULTS.graphApiTimeoutMs * 2 + 5_000;

  const webhookHandler = createWebhookHandler({
    store: new DynamoClientStore(hookDoc, tableName),
    phones: new DynamoPhoneOwnership(hookDoc, tableName),
    inbound: new SqsInboundEventSink(hook.sqs, queues.inbound),
    releases: new SqsReleaseQueue(hook.sqs, queues.release),
    events: new SnsRelayEventPublisher(new SdkSnsBatchSender(hook.sns), topicArn),
    telemetry: silentTelemetry,
    secrets: async () => ({ appSecrets: [SECRET], verifyToken: 'bench' }),
    reconnectSkewMs: DEFAULTS.reconnectSkewSeconds * 1000,
    timelineRetentionDays: DEFAULTS.timelineRetentionDays,
  });
  const timedWebhook = usage.timed('webhook', webhookHandler);
  const webhook = async (body: Buffer) => {
    const r = await timedWebhook(benchEvent(body, signBody(body, SECRET)));
    if (r.statusCode !== 200) throw new Error(`webhook answered ${r.statusCode}: ${r.body}`);
  };

  const service = new OutboundService({
    statuses: new DynamoStatusReader(doc, tableName),
    phones: new DynamoPhoneOwnership(doc, tableName),
    ledger: new DynamoSendLedger(doc, tableName, ledgerLeaseMs, DEFAULTS.sendLedgerRetentionDays),
    phoneNumbers: new DynamoClientPhoneNumbers(doc, tableName),
    queues: new SqsOutboundQueues(sqs, queues.delay, queues.dlq),
    cloudApi,
    tokens,
    telemetry: silentTelemetry,
    parked,
    releases,
    events,
    messages: new DynamoMessageOutcomeStore(doc, tableName, DEFAULTS.sendLedgerRetentionDays),
    parkDelaySchedule: parseDelaySchedule(DEFAULTS.parkDelaySchedule),
    maxParkSeconds: DEFAULTS.maxParkSeconds,
    maxSendAttempts: DEFAULTS.maxSendAttempts,
    reconnectSkewMs: DEFAULTS.reconnectSkewSeconds * 1000,
  });
  const consumer = usage.timed('consumer', createConsumerHandler(async () => service, silentTelemetry, (arn) => isQueueArnOf(arn, queues.delay)));

  const paced = { slots: [] as { phone: string; at: number }[], starts: [] as { phone: string; text: string; at: number }[] };
  const releaser = () => {
    const rate = DEFAULTS.releaseRatePerSecond;
    const pacer = new DynamoPacer(doc, tableName, paceIntervalMs(rate));
    const releaseService = new ReleaseService({
      parked,
      control: new DynamoReleaseStore(doc, tableName),
      statuses: new DynamoStatusReader(doc, tableName),
      requests: releases,
      // Recorded on the way through (profiling where a call's lateness comes from); the real pacer and client decide.
      pacer: {
        reserve: async (phone, nowMs) => {
          const at = await pacer.reserve(phone, nowMs);
          paced.slots.push({ phone, at });
          return at;
        },
      },
      callWindow: new CallWindow(rate),
      ledger: new DynamoSendLedger(doc, tableName, ledgerLeaseMs, DEFAULTS.sendLedgerRetentionDays),
      tokens,
      cloudApi: {
        send: (phone, payload, token) => {
          paced.starts.push({ phone, text: String((payload.text as { body?: string } | undefined)?.body), at: Date.now() });
          return cloudApi.send(phone, payload, token);
        },
      },
      queues: { deadLetter: async (messages) => (await sendBatches(sqs, queues.dlq, messages)).failed },
      events,
      messages: new DynamoMessageOutcomeStore(doc, tableName, DEFAULTS.sendLedgerRetentionDays),
      telemetry: silentTelemetry,
      maxSendAttempts: DEFAULTS.maxSendAttempts,
      maxParkSeconds: DEFAULTS.maxParkSeconds,
      reconnectSkewMs: DEFAULTS.reconnectSkewSeconds * 1000,
    });
    const handler = createReleaserHandler(async () => releaseService, silentTelemetry);
    // The stack's time limit: a run stops 10 s before it and queues its continuation, as in AWS.
    const context = (): Pick<Context, 'getRemainingTimeInMillis'> => ({
      ...lambdaContext('releaser'),
      getRemainingTimeInMillis: () => DEFAULTS.releaserTimeoutSeconds * 1000,
    });
    return usage.timed('releaser', (event: SQSEvent) => handler(event, context()));
  };

  const poll = (url: string, handler: SqsHandler, batchSize = 10) => {
    let running = true;
    const loop = (async () => {
      while (running) {
        try {
          await pollOnce(sqs, url, handler, { waitTimeSeconds: 1, batchSize });
        } catch {
          if (running) await sleep(200);
        }
      }
    })();
    return {
      stop: async () => {
        running = false;
        await loop;
      },
    };
  };
  return {
    sqs,
    usage,
    webhookUsage,
    tableName,
    queues,
    parked,
    paced,
    webhook,
    consumer,
    releaser,
    poll,
    close: () => {
      for (const c of [dynamo, sqs, sns, hook.dynamo, hook.sqs, hook.sns]) c.destroy();
    },
  };
};

const accountUpdate = (wabaId: string, event: 'ACCOUNT_OFFBOARDED' | 'ACCOUNT_RECONNECTED', timeSeconds: number): Buffer =>
  Buffer.from(
    JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [{ id: wabaId, time: timeSeconds, changes: [{ field: 'account_update', value: { event, phone_number: '15550783881' } }] }],
    }),
  );

/**
 * The partner's enqueue (its requests go to the relay's queue, so they are on the relay's bill when counted):
 * SendMessageBatch requests of `perRequest` messages. Messages sent in one request share their
 * SentTimestamp, so their first-enqueued order is undefined (the relay then orders them by messageId): the order
 * checks enqueue at most one message per recipient in a request.
 */
const enqueue = async (r: Rig, bodies: readonly string[], perRequest = 10) => {
  for (let i = 0; i < bodies.length; i += perRequest) {
    const entries: SendMessageBatchRequestEntry[] = bodies.slice(i, i + perRequest).map((b, j) => ({ Id: String(j), MessageBody: b }));
    const out = await r.sqs.send(new SendMessageBatchCommand({ QueueUrl: r.queues.outbound, Entries: entries }));
    if ((out.Failed ?? []).length > 0) throw new Error('enqueue failed');
    // SentTimestamp has millisecond resolution: the next batch gets a later one (first-enqueued order is by it).
    await sleep(2);
  }
};

const envelope = (wabaId: string, phoneNumberId: string, to: string, text: string) =>
  JSON.stringify({
    messageId: `bench-${randomUUID()}`,
    wabaId,
    phoneNumberId,
    payload: { messaging_product: 'whatsapp', to, type: 'text', text: { body: text } },
  });

const waitFor = async (what: string, ok: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 10): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`bench: ${what} did not happen within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
};

const parkedCount = async (r: Rig, wabaIds: readonly string[]) => {
  let n = 0;
  for (const w of wabaIds) n += (await r.parked.summary(w)).count;
  return n;
};

/** Usage per unit of work (message, hop, webhook). */
export interface UnitUsage {
  readonly sqsRequests: number;
  readonly snsRequests: number;
  readonly readUnits: number;
  readonly writeUnits: number;
  /** Lambda invocations and billed milliseconds per unit, by function. */
  readonly lambda: Readonly<Record<string, { readonly invocations: number; readonly billedMs: number }>>;
}

const perUnit = (u: UsageSnapshot, units: number): UnitUsage => ({
  sqsRequests: u.sqsRequests / units,
  snsRequests: u.snsRequests / units,
  readUnits: u.readUnits / units,
  writeUnits: u.writeUnits / units,
  lambda: Object.fromEntries(Object.entries(u.lambda).map(([k, v]) => [k, { invocations: v.invocations / units, billedMs: v.billedMs / units }])),
});

export interface ResumeResult {
  readonly episodes: number;
  readonly messagesPerEpisode: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Webhooks (1 KB account_update) through the real handler: usage per webhook. */
  readonly perWebhook: UnitUsage;
}

/**
 * Resume latency: clients offboarded by webhook, their messages parked by the consumer; then, one client at a time,
 * ACCOUNT_RECONNECTED is posted to the webhook handler and the clock runs from its answer to the stand-in receiving
 * the client's first parked message (webhook -> release queue -> releaser -> Cloud API).
 */
export const resumeBench = async (
  endpoints: { dynamo: string; sqs: string },
  api: CloudApiStandIn,
  options: { readonly episodes: number; readonly perEpisode: number; readonly warmup: number },
): Promise<ResumeResult> => {
  const { episodes, perEpisode, warmup } = options;
  const r = await rig(endpoints, api.url);
  const pollers = [r.poll(r.queues.outbound, r.consumer), ...Array.from({ length: 3 }, () => r.poll(r.queues.release, r.releaser()))];
  try {
    const tag = randomUUID().slice(0, 6);
    // `warmup` episodes first are not counted: the first requests of a fresh JVM and code path are not what AWS shows.
    const clients = Array.from({ length: episodes + warmup }, (_, i) => ({ wabaId: `bench-resume-${tag}-${i}`, phone: `pn-resume-${tag}-${i}` }));
    const offAt = Math.floor(Date.now() / 1000) - 60;
    // The webhook's own requests only (its clients): what its reconnections set off (a release) is not the webhook's.
    r.webhookUsage.reset();
    for (const c of clients) await r.webhook(accountUpdate(c.wabaId, 'ACCOUNT_OFFBOARDED', offAt));
    const offboardUsage = r.webhookUsage.snapshot();
    const bodies = clients.flatMap((c) => Array.from({ length: perEpisode }, (_, j) => envelope(c.wabaId, c.phone, `1555000${String(j).padStart(4, '0')}`, `resume ${j}`)));
    await enqueue(r, bodies);
    await waitFor('parking every message', async () => (await parkedCount(r, clients.map((c) => c.wabaId))) === bodies.length, 120_000, 100);

    const latencies: number[] = [];
    const reconnects = { sqs: 0, sns: 0, read: 0, write: 0, billedMs: 0 };
    for (const [i, c] of clients.entries()) {
      const from = api.requests.length;
      const mine = () => api.requests.slice(from).filter((q) => q.phoneNumberId === c.phone);
      r.webhookUsage.reset();
      await r.webhook(accountUpdate(c.wabaId, 'ACCOUNT_RECONNECTED', Math.floor(Date.now() / 1000)));
      const answeredAt = Date.now();
      if (i >= warmup) {
        const u = r.webhookUsage.snapshot();
        reconnects.sqs += u.sqsRequests;
        reconnects.sns += u.snsRequests;
        reconnects.read += u.readUnits;
        reconnects.write += u.writeUnits;
        reconnects.billedMs += u.lambda.webhook?.billedMs ?? 0;
      }
      await waitFor(`${c.wabaId}'s first parked message`, () => mine().length > 0, 30_000, 5);
      if (i >= warmup) latencies.push((mine()[0] as CloudApiRequest).at - answeredAt);
      await waitFor(`${c.wabaId}'s release`, () => mine().length >= perEpisode, 30_000);
    }
    // Per webhook: an offboarding and a reconnection (the reconnection also queues a release request).
    const n = clients.length;
    const webhookUsage: UsageSnapshot = {
      ...offboardUsage,
      sqsRequests: offboardUsage.sqsRequests / n + reconnects.sqs / episodes,
      snsRequests: offboardUsage.snsRequests / n + reconnects.sns / episodes,
      readUnits: offboardUsage.readUnits / n + reconnects.read / episodes,
      writeUnits: offboardUsage.writeUnits / n + reconnects.write / episodes,
      lambda: { webhook: { invocations: 2, billedMs: (offboardUsage.lambda.webhook?.billedMs ?? 0) / n + reconnects.billedMs / episodes } },
    };
    return {
      episodes,
      messagesPerEpisode: perEpisode,
      p50Ms: Math.round(percentile(latencies, 50)),
      p99Ms: Math.round(percentile(latencies, 99)),
      maxMs: Math.round(Math.max(...latencies)),
      perWebhook: perUnit(webhookUsage, 2),
    };
  } finally {
    for (const p of pollers) await p.stop();
    r.close();
  }
};

export interface DrainResult {
  readonly releasers: number;
  readonly parked: number;
  readonly recipients: number;
  /** Messages enqueued while the release drained (one per recipient): they must wait behind the parked ones. */
  readonly midDrain: number;
  readonly rateLimit: number;
  readonly perSecond: number;
  /** Most calls in any 1 s where the stand-in received them (the budget). */
  readonly maxInAnySecond: number;
  /**
   * The same counted where the pace is made: the slots the pacer handed out, and the calls' starts in the releaser.
   * Above these, the difference is lateness between the releaser starting a call and the stand-in reading it.
   */
  readonly maxInAnySecondSlots: number;
  readonly maxInAnySecondStarts: number;
  /** Milliseconds from the releaser starting a call to the stand-in receiving it: p50, p99, max. */
  readonly transitMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly recipientsInOrder: number;
  readonly seconds: number;
  /**
   * Usage per message from the partner's enqueue to its send by the release: the first park, the release (parked
   * hours not included).
   */
  readonly perMessage: UnitUsage;
}

/**
 * Drain pace and order: `parked` messages for clients sharing one phone number (one client unless `releasers` > 1:
 * then one client per releaser instance, as only one release runs per client), over `recipients` recipients, parked
 * by the consumer while offboarded; after ACCOUNT_RECONNECTED the releaser(s) send them. When a fifth has gone out,
 * one new message per recipient is enqueued: it must arrive after that recipient's parked ones.
 */
export const drainBench = async (
  endpoints: { dynamo: string; sqs: string },
  api: CloudApiStandIn,
  options: { parked: number; recipients: number; releasers: number },
): Promise<DrainResult> => {
  const r = await rig(endpoints, api.url);
  const batchSize = options.releasers > 1 ? 1 : 10; // one request per instance, so two instances really run
  const pollers = [r.poll(r.queues.outbound, r.consumer), ...Array.from({ length: options.releasers }, () => r.poll(r.queues.release, r.releaser(), batchSize))];
  try {
    const tag = randomUUID().slice(0, 6);
    const phone = `pn-drain-${tag}`;
    const clients = Array.from({ length: options.releasers }, (_, i) => `bench-drain-${tag}-${i}`);
    const recipients = Array.from({ length: options.recipients }, (_, i) => `1555100${String(i).padStart(4, '0')}`);
    const expected = new Map<string, string[]>(recipients.map((to) => [to, []]));
    const offAt = Math.floor(Date.now() / 1000) - 60;
    for (const w of clients) await r.webhook(accountUpdate(w, 'ACCOUNT_OFFBOARDED', offAt));
    r.usage.reset();
    // Each client has its own recipients (order is kept per client and recipient): client c gets recipients c, c + n, ...
    const n = clients.length;
    if (options.recipients % n !== 0) throw new Error('bench: recipients must divide among the clients');
    const bodies = Array.from({ length: options.parked }, (_, i) => {
      const to = recipients[(Math.floor(i / n) % (options.recipients / n)) * n + (i % n)] as string;
      const text = `old ${i}`;
      expected.get(to)?.push(text);
      return envelope(clients[i % n] as string, phone, to, text);
    });
    const perRequest = Math.min(10, options.recipients);
    await enqueue(r, bodies, perRequest);
    await waitFor('parking every message', async () => (await parkedCount(r, clients)) === bodies.length, 300_000, 200);

    const from = api.requests.length;
    const mine = () => api.requests.slice(from).filter((q) => q.phoneNumberId === phone);
    const now = Math.floor(Date.now() / 1000);
    for (const w of clients) await r.webhook(accountUpdate(w, 'ACCOUNT_RECONNECTED', now));
    await waitFor('a fifth of the drain', () => mine().length >= Math.ceil(options.parked / 5), 120_000);
    const late = recipients.map((to, i) => {
      const text = `new ${i}`;
      expected.get(to)?.push(text);
      return envelope(clients[i % n] as string, phone, to, text);
    });
    await enqueue(r, late, perRequest);
    const total = options.parked + late.length;
    await waitFor('the whole drain', () => mine().length >= total, 30_000 + (total / DEFAULTS.releaseRatePerSecond) * 2000, 50);
    await sleep(500); // anything sent twice would show up now
    const calls = mine();
    const usage = r.usage.snapshot();
    const slots = r.paced.slots.filter((x) => x.phone === phone).map((x) => x.at);
    const started = new Map(r.paced.starts.filter((x) => x.phone === phone).map((x) => [x.text, x.at]));
    const starts = [...started.values()];
    const transit = calls.map((c) => c.at - (started.get(textOf(c)) ?? c.at)).sort((a, b) => a - b);
    const oldCalls = calls.filter((c) => textOf(c).startsWith('old '));
    const pace = paceFigures(calls.map((c) => c.at));
    const order = recipientsInOrder(expected, calls.map((c) => ({ to: String(c.body.to), text: textOf(c) })));
    if (calls.length !== total) throw new Error(`bench: ${calls.length} calls for ${total} messages`);
    return {
      releasers: options.releasers,
      parked: options.parked,
      recipients: options.recipients,
      midDrain: late.length,
      rateLimit: DEFAULTS.releaseRatePerSecond,
      // The drain of the parked messages alone (the late ones park behind it, then follow).
      perSecond: paceFigures(oldCalls.map((c) => c.at)).perSecond,
      maxInAnySecond: pace.maxInAnySecond,
      maxInAnySecondSlots: maxPerWindow(slots),
      maxInAnySecondStarts: maxPerWindow(starts),
      transitMs: { p50: percentile(transit, 50), p99: percentile(transit, 99), max: transit[transit.length - 1] ?? 0 },
      recipientsInOrder: order.inOrder,
      seconds: Math.round((((calls[calls.length - 1]?.at ?? 0) - (calls[0]?.at ?? 0)) / 1000) * 10) / 10,
      // Webhooks are billed per webhook: the reconnection's own function time is left out here.
      perMessage: perUnit({ ...usage, lambda: Object.fromEntries(Object.entries(usage.lambda).filter(([fn]) => fn !== 'webhook')) }, total),
    };
  } finally {
    for (const p of pollers) await p.stop();
    r.close();
  }
};

export interface ParkHourResult {
  readonly schedule: string;
  readonly hopsPerHour: number;
  readonly alone: { readonly perHop: UnitUsage; readonly sqsPerParkedHour: number };
  readonly tenPerBatch: { readonly perHop: UnitUsage; readonly sqsPerParkedHour: number };
  /** Messages sent by a connected client's consumer, ten per batch: usage per message. */
  readonly sentPerMessage: UnitUsage;
}

/**
 * One delay hop through the real consumer: messages of offboarded clients parked by the consumer (their delay-queue
 * copies captured as it sent them), sent again without the delay, then one receive by the event source and the
 * consumer's handling, counted: alone in a batch and ten per batch. Times the default schedule's hops per hour.
 * Also the usage of messages a connected client sends (the bill's "sent" row).
 */
export const parkHourBench = async (endpoints: { dynamo: string; sqs: string }, api: CloudApiStandIn, sentMessages: number): Promise<ParkHourResult> => {
  const r = await rig(endpoints, api.url);
  try {
    const tag = randomUUID().slice(0, 6);
    const hops = hopsPerHour(DEFAULTS.parkDelaySchedule);
    // The delay-queue messages the consumer writes when it parks (captured from its own requests).
    const captured: SendMessageBatchRequestEntry[] = [];
    (r.sqs.middlewareStack as unknown as { add(mw: unknown, o: unknown): void }).add(
      (next: (a: { input: { QueueUrl?: string; Entries?: SendMessageBatchRequestEntry[] } }) => Promise<unknown>, context: { commandName?: string }) =>
        async (args: { input: { QueueUrl?: string; Entries?: SendMessageBatchRequestEntry[] } }) => {
          if (context.commandName === 'SendMessageBatchCommand' && args.input.QueueUrl === r.queues.delay) captured.push(...(args.input.Entries ?? []));
          return next(args);
        },
      { step: 'initialize', name: `benchCapture-${tag}` },
    );
    const hop = async (clients: number) => {
      const wabaIds = Array.from({ length: clients }, (_, i) => `bench-hop-${tag}-${clients}-${i}`);
      for (const w of wabaIds) await r.webhook(accountUpdate(w, 'ACCOUNT_OFFBOARDED', Math.floor(Date.now() / 1000) - 60));
      captured.length = 0;
      await enqueue(r, wabaIds.map((w, i) => envelope(w, `pn-${w}`, `1555200${String(i).padStart(4, '0')}`, `hop ${i}`)));
      await waitFor('first park', async () => {
        await pollOnce(r.sqs, r.queues.outbound, r.consumer);
        return captured.length === clients;
      }, 10_000, 0);
      // The same messages come back from the delay queue at once instead of after their hop.
      const entries = captured.map(({ DelaySeconds: _d, ...e }, i) => ({ ...e, Id: String(i) }));
      await r.sqs.send(new SendMessageBatchCommand({ QueueUrl: r.queues.delay, Entries: entries }));
      await sleep(50);
      r.usage.reset();
      const out = await pollOnce(r.sqs, r.queues.delay, r.consumer, { waitTimeSeconds: 1 });
      if (out.received !== clients || out.failed !== 0) throw new Error(`bench: hop received ${out.received}, failed ${out.failed}`);
      const perHop = perUnit(r.usage.snapshot(), clients);
      return { perHop, sqsPerParkedHour: Math.round(perHop.sqsRequests * hops * 100) / 100 };
    };
    const alone = await hop(1);
    const tenPerBatch = await hop(10);

    // Sent: ten connected clients, batches of ten through the consumer.
    const wabaIds = Array.from({ length: 10 }, (_, i) => `bench-sent-${tag}-${i}`);
    const sendAll = async (n: number, from: number) => {
      await enqueue(r, Array.from({ length: n }, (_, i) => envelope(wabaIds[i % 10] as string, `pn-sent-${tag}-${i % 10}`, `1555300${String(from + i).padStart(4, '0')}`, `sent ${from + i}`)));
      const before = api.requests.length;
      let idle = 0;
      while (api.requests.length - before < n && idle < 5) idle = (await pollOnce(r.sqs, r.queues.outbound, r.consumer)).received === 0 ? idle + 1 : 0;
      if (api.requests.length - before !== n) throw new Error(`bench: ${api.requests.length - before} of ${n} sent`);
    };
    // Steady state: each client's first message (it records the client's phone number and the number's owner) is not
    // what a connected client's messages cost.
    await sendAll(10, 0);
    r.usage.reset();
    await sendAll(sentMessages, 10);
    const sentPerMessage = perUnit(r.usage.snapshot(), sentMessages);
    return { schedule: DEFAULTS.parkDelaySchedule, hopsPerHour: hops, alone, tenPerBatch, sentPerMessage };
  } finally {
    r.close();
  }
};
