/**
 * `npm run bench -- --scale[=<clients>/<messages>]` (issue 19, item 6): clients and messages through the real local
 * pipeline (`startPipeline`: every function's entry point, DynamoDB Local, fauxqs, the embedded Cloud API stand-in,
 * the tally function on the table's stream). A tenth of the clients is offboarded by signed `account_update` webhooks,
 * the messages are enqueued round-robin over every client, the offboarded clients' messages park; once the others are
 * all sent, the offboarded clients are reconnected by webhook and their parked messages drain. Every message must
 * reach the stand-in exactly once: checked by messageId (each message's text is its messageId).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { GetQueueAttributesCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../lambdas/adapters/dynamo/client-store.js';
import { keys } from '../lambdas/adapters/dynamo/table.js';
import { DynamoParkedStore } from '../lambdas/adapters/dynamo/release-stores.js';
import { signBody } from '../lambdas/core/webhook/signature.js';
import { DEV_SECRETS, pipelineNames, startPipeline } from '../local/pipeline.js';
import { localDynamo, localSqs } from '../local/services.js';

export interface ScaleSizes {
  readonly clients: number;
  readonly messages: number;
}

/** `--scale` without sizes. */
export const FULL_SCALE: ScaleSizes = { clients: 10_000, messages: 100_000 };

/** `10000/100000` -> sizes; null when it is not two positive whole numbers with at least one message per client. */
export const parseScaleSizes = (text: string): ScaleSizes | null => {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) return null;
  const clients = Number(m[1]);
  const messages = Number(m[2]);
  if (clients < 10 || messages < clients) return null;
  return { clients, messages };
};

export interface ScaleResult {
  readonly clients: number;
  readonly messages: number;
  readonly offboardedClients: number;
  /** Messages of offboarded clients: parked, then released. */
  readonly parkedMessages: number;
  /** Parked copies found in the table before the reconnections (must equal parkedMessages). */
  readonly parkedFound: number;
  /** Message ids never received by the Cloud API stand-in. */
  readonly lost: number;
  /** Sends of a message id beyond its first. */
  readonly duplicates: number;
  /** Connected clients' messages per second, from the first enqueue to the last of them received by the stand-in. */
  readonly sendPerSecond: number;
  readonly sendSeconds: number;
  /** From the first ACCOUNT_RECONNECTED webhook to the last parked message received by the stand-in. */
  readonly drainSeconds: number;
  readonly drainPerSecond: number;
  readonly webhooks: number;
  readonly wallSeconds: number;
  /**
   * Peaks, in MB. The pipeline runs every function, fauxqs, the stand-in and this driver in one Node process, so
   * memory cannot be told apart per function: `process` is that process (RSS and V8 heap used, sampled every 250 ms);
   * `dynamoDbLocal` is the JVM's peak RSS (VmHWM) when DynamoDB Local runs as a child process.
   */
  readonly peakMemoryMb: { readonly processRss: number; readonly processHeapUsed: number; readonly dynamoDbLocalRss: number | null };
  /** Up to 10 message ids sent more than once, with the seconds from the run's start of each of their sends. */
  readonly duplicateSamples: readonly {
    readonly messageId: string;
    readonly sentAtSeconds: readonly number[];
    /** The send ledger's claims of the message: 2 or more means a second worker took the claim after its lease ran out. */
    readonly claims: number | null;
  }[];
  /** Error lines the pipeline printed (poller, tally, http), first few. */
  readonly pipelineErrors: readonly string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
const round1 = (x: number) => Math.round(x * 10) / 10;

/** Peak RSS of this process's java children (DynamoDB Local), from /proc (Linux); null elsewhere or without one. */
const javaChildPeakRss = (): number | null => {
  try {
    let peak: number | null = null;
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        if (!/^Name:\s+java$/m.test(status) || Number(/^PPid:\s+(\d+)$/m.exec(status)?.[1]) !== process.pid) continue;
        const kb = Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0);
        peak = Math.max(peak ?? 0, kb * 1024);
      } catch {
        // gone meanwhile
      }
    }
    return peak;
  } catch {
    return null;
  }
};

/** Runs `fn` over `items`, `limit` at a time. */
const eachLimit = async <T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> => {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
};

/** Polls `done` until true; fails when `progress` has not changed for `stallMs`. */
const waitUntil = async (what: string, done: () => Promise<boolean> | boolean, progress: () => number, stallMs: number): Promise<void> => {
  let last = progress();
  let lastChange = Date.now();
  while (!(await done())) {
    await sleep(200);
    const p = progress();
    if (p !== last) {
      last = p;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > stallMs) {
      throw new Error(`scale: ${what} stalled at ${p} for ${stallMs / 1000} s`);
    }
  }
};

export const scaleBench = async (
  sizes: ScaleSizes,
  options: { readonly env?: Record<string, string>; readonly log?: (line: string) => void } = {},
): Promise<ScaleResult> => {
  const log = options.log ?? (() => undefined);
  const wallStart = Date.now();
  const peak = { rss: 0, heap: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    peak.rss = Math.max(peak.rss, m.rss);
    peak.heap = Math.max(peak.heap, m.heapUsed);
  };
  const sampler = setInterval(sample, 250);
  const errors: string[] = [];
  // The functions log at WARN: one INFO line per decision would be 100,000s of lines formatted for nothing.
  const logLevel = process.env.POWERTOOLS_LOG_LEVEL;
  process.env.POWERTOOLS_LOG_LEVEL = 'WARN';
  const tag = `scale-${Date.now().toString(36)}`;
  const pipeline = await startPipeline(
    {
      PORT: '0',
      ...pipelineNames(tag),
      RELAY_EVENTS_TAIL_QUEUE_NAME: `${tag}-events-tail`,
      // Closer to AWS's 5 minutes than npm start's 5 s: the sweeper scanning 10,000 clients every 5 s is not the load.
      LOCAL_SWEEP_EVERY_SECONDS: '60',
      // Four consumer instances: in AWS the event source scales them; the consumer bench measures 4 pollers too.
      LOCAL_CONSUMER_POLLERS: '4',
      ...options.env,
    },
    (line) => {
      if (/^(poller|tally|http|sweeper)\s/.test(line) && errors.length < 20) errors.push(line);
    },
  );
  try {
    const { info } = pipeline;
    const api = pipeline.cloudApi;
    if (!api) throw new Error('scale: the pipeline must run its embedded Cloud API stand-in');
    const sqs = localSqs(info.sqsEndpoint);
    const dynamo = localDynamo(info.dynamodbEndpoint);
    try {
      const secret = process.env.META_APP_SECRET ?? DEV_SECRETS.META_APP_SECRET;
      let webhooks = 0;
      const postWebhook = async (wabaId: string, event: 'ACCOUNT_OFFBOARDED' | 'ACCOUNT_RECONNECTED', time: number) => {
        const body = Buffer.from(
          JSON.stringify({
            object: 'whatsapp_business_account',
            entry: [{ id: wabaId, time, changes: [{ field: 'account_update', value: { event, phone_number: '15550783881' } }] }],
          }),
        );
        const r = await fetch(`${info.url}/webhook`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(body, secret) }, body });
        await r.text();
        if (r.status !== 200) throw new Error(`scale: webhook ${event} for ${wabaId} answered ${r.status}`);
        webhooks++;
      };

      const clients = Array.from({ length: sizes.clients }, (_, i) => ({ wabaId: `${tag}-${i}`, phone: `pn-${tag}-${i}`, offboarded: i % 10 === 0 }));
      const offboarded = clients.filter((c) => c.offboarded);
      log(`scale: offboarding ${offboarded.length} of ${clients.length} clients by webhook...`);
      const offAt = Math.floor(Date.now() / 1000) - 60;
      await eachLimit(offboarded, 8, (c) => postWebhook(c.wabaId, 'ACCOUNT_OFFBOARDED', offAt));

      // Each message's text is its messageId: the stand-in's requests are matched by it.
      const ids = Array.from({ length: sizes.messages }, (_, i) => `${tag}-m${i}`);
      const clientOf = (i: number) => clients[i % clients.length] as (typeof clients)[number];
      const parkedMessages = ids.filter((_, i) => clientOf(i).offboarded).length;
      const connectedMessages = sizes.messages - parkedMessages;
      const requestsBefore = api.requests.length;
      const mine = () => api.requests.length - requestsBefore;

      log(`scale: enqueueing ${sizes.messages} messages (${parkedMessages} to offboarded clients) while the pipeline sends...`);
      const sendStart = Date.now();
      const batches = Array.from({ length: Math.ceil(ids.length / 10) }, (_, b) => b);
      const progress = setInterval(() => log(`scale: ${mine()} of ${sizes.messages} messages sent`), 15_000);
      try {
        await eachLimit(batches, 4, async (b) => {
          const entries = ids.slice(b * 10, b * 10 + 10).map((id, j) => {
            const c = clientOf(b * 10 + j);
            const to = `1555${String((b * 10 + j) % 10_000_000).padStart(7, '0')}`;
            return {
              Id: String(j),
              MessageBody: JSON.stringify({ messageId: id, wabaId: c.wabaId, phoneNumberId: c.phone, payload: { messaging_product: 'whatsapp', to, type: 'text', text: { body: id } } }),
            };
          });
          const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: info.queues.outbound, Entries: entries }));
          if ((out.Failed ?? []).length > 0) throw new Error('scale: enqueue failed');
        });
        const outboundEmpty = async () => {
          const a = await sqs.send(
            new GetQueueAttributesCommand({ QueueUrl: info.queues.outbound, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
          );
          return Number(a.Attributes?.ApproximateNumberOfMessages ?? 1) + Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 1) === 0;
        };
        await waitUntil('sending', () => mine() >= connectedMessages, mine, 120_000);
        const sendEnd = api.requests[api.requests.length - 1]?.at ?? Date.now();
        // Every message handled: the offboarded clients' ones parked (their copies in the table).
        await waitUntil('parking', outboundEmpty, mine, 120_000);
        const parkedStore = new DynamoParkedStore(documentClient(dynamo), info.tableName, 86_400);
        let parkedFound = 0;
        await eachLimit(offboarded, 8, async (c) => {
          const { count } = await parkedStore.summary(c.wabaId);
          parkedFound += count;
        });
        log(`scale: ${mine()} sent, ${parkedFound} parked; reconnecting ${offboarded.length} clients by webhook...`);

        const drainStart = Date.now();
        const now = Math.floor(Date.now() / 1000);
        await eachLimit(offboarded, 8, (c) => postWebhook(c.wabaId, 'ACCOUNT_RECONNECTED', now));
        await waitUntil('the drain', () => mine() >= sizes.messages, mine, 120_000);
        const drainEnd = api.requests[api.requests.length - 1]?.at ?? Date.now();
        await sleep(2_000); // a message sent twice would show up now
        sample();

        const seen = new Map<string, number[]>();
        const wabaOf = new Map<string, string>();
        for (const r of api.requests.slice(requestsBefore)) {
          const text = String((r.body.text as { body?: string } | undefined)?.body);
          seen.set(text, [...(seen.get(text) ?? []), r.at]);
          wabaOf.set(text, r.phoneNumberId.replace(/^pn-/, ''));
        }
        let lost = 0;
        for (const id of ids) if (!seen.has(id)) lost++;
        let duplicates = 0;
        const duplicateSamples: { messageId: string; sentAtSeconds: number[]; claims: number | null }[] = [];
        const doc = documentClient(dynamo);
        for (const [messageId, at] of seen) {
          duplicates += at.length - 1;
          if (at.length > 1 && duplicateSamples.length < 10) {
            const item = (await doc.send(new GetCommand({ TableName: info.tableName, Key: keys.message(wabaOf.get(messageId) ?? '', messageId), ConsistentRead: true }))).Item;
            duplicateSamples.push({ messageId, sentAtSeconds: at.map((t) => round1((t - sendStart) / 1000)), claims: typeof item?.claims === 'number' ? item.claims : null });
          }
        }
        const sendSeconds = (sendEnd - sendStart) / 1000;
        const drainSeconds = (drainEnd - drainStart) / 1000;
        const jvm = javaChildPeakRss();
        return {
          clients: sizes.clients,
          messages: sizes.messages,
          offboardedClients: offboarded.length,
          parkedMessages,
          parkedFound,
          lost,
          duplicates,
          sendPerSecond: Math.round(connectedMessages / sendSeconds),
          sendSeconds: round1(sendSeconds),
          drainSeconds: round1(drainSeconds),
          drainPerSecond: Math.round(parkedMessages / drainSeconds),
          webhooks,
          wallSeconds: round1((Date.now() - wallStart) / 1000),
          peakMemoryMb: { processRss: mb(Math.max(peak.rss, process.resourceUsage().maxRSS * 1024)), processHeapUsed: mb(peak.heap), dynamoDbLocalRss: jvm === null ? null : mb(jvm) },
          duplicateSamples,
          pipelineErrors: errors,
        };
      } finally {
        clearInterval(progress);
      }
    } finally {
      sqs.destroy();
      dynamo.destroy();
    }
  } finally {
    clearInterval(sampler);
    await pipeline.stop();
    if (logLevel === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
    else process.env.POWERTOOLS_LOG_LEVEL = logLevel;
  }
};

/** The printed result (at most 120 columns). */
export const renderScale = (r: ScaleResult): string => {
  const rows: [string, string][] = [
    [`scale: ${r.clients} clients, ${r.messages} messages through the local pipeline`, ''],
    ['offboarded by webhook, then reconnected', `${r.offboardedClients} clients, ${r.parkedMessages} messages parked (${r.parkedFound} found)`],
    ['lost (message ids the Cloud API never received)', String(r.lost)],
    ['duplicates (sends beyond a message id\'s first)', String(r.duplicates)],
    ['throughput, connected clients', `${r.sendPerSecond} msg/s (${r.messages - r.parkedMessages} in ${r.sendSeconds} s)`],
    ['drain after reconnection', `${r.drainSeconds} s (${r.drainPerSecond} msg/s)`],
    ['peak memory, whole Node process (every function)', `RSS ${r.peakMemoryMb.processRss} MB, heap used ${r.peakMemoryMb.processHeapUsed} MB`],
    ['peak memory, DynamoDB Local JVM', r.peakMemoryMb.dynamoDbLocalRss === null ? 'n/a' : `RSS ${r.peakMemoryMb.dynamoDbLocalRss} MB`],
    ['webhooks, wall time', `${r.webhooks}, ${r.wallSeconds} s`],
    ...r.duplicateSamples.map((d): [string, string] => ['  sent more than once (s from the first enqueue)', `${d.messageId}: ${d.sentAtSeconds.join(', ')} (claims ${d.claims ?? '?'})`]),
    ...r.pipelineErrors.map((e): [string, string] => ['pipeline error', e.slice(0, 70)]),
  ];
  const w = Math.max(...rows.map(([a]) => a.length));
  return rows.map(([a, b]) => `${a.padEnd(w)}  ${b}`.trimEnd()).join('\n');
};
