import { createHash } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCallbackData } from '../../lambdas/core/outcomes/message-outcome.js';
import { HttpCloudApi, SecretTokenProvider } from '../../lambdas/adapters/cloud-api.js';
import { DynamoClientPhoneNumbers, DynamoSendLedger, DynamoStatusReader } from '../../lambdas/adapters/dynamo/outbound-stores.js';
import { DynamoPhoneOwnership } from '../../lambdas/adapters/dynamo/phone-ownership.js';
import { isQueueArnOf, SqsInboundEventSink, SqsOutboundQueues } from '../../lambdas/adapters/sqs.js';
import { SqsReleaseQueue } from '../../lambdas/adapters/sqs-release.js';
import { DynamoPacer, DynamoParkedStore, DynamoReleaseStore } from '../../lambdas/adapters/dynamo/release-stores.js';
import { CallWindow, paceIntervalMs } from '../../lambdas/core/release/pacing.js';
import { ReleaseService } from '../../lambdas/core/release/release.js';
import { createReleaserHandler } from '../../lambdas/releaser/handler.js';
import type { ClientView } from '../../lambdas/core/status/client-view.js';
import { toSqsJson } from '../../lambdas/core/shared/sqs-body.js';
import type { BatchContextReader } from '../../lambdas/core/outbound/ports.js';
import { type DeadLetterBody, OutboundService } from '../../lambdas/core/outbound/outbound-service.js';
import { signBody } from '../../lambdas/core/webhook/signature.js';
import { createConsumerHandler } from '../../lambdas/consumer/handler.js';
import { createStatusHandler } from '../../lambdas/status/handler.js';
import { createWebhookHandler } from '../../lambdas/webhook/handler.js';
import { accepted, CloudApiStandIn, metaError } from '../../local/cloud-api-stand-in.js';
import { pollOnce } from '../../local/sqs-event-source.js';
import { drain, httpEvent, localResources } from '../support/aws.js';
import { documentClient } from '../../lambdas/adapters/dynamo/client-store.js';
import { localDynamo } from '../../local/services.js';
import { startTally } from '../support/tally.js';
import { DynamoMessageOutcomeStore } from '../../lambdas/adapters/dynamo/message-outcome-store.js';
import { RecordingTelemetry } from '../support/telemetry.js';
import { offboarded, partnerEvent, reconnected } from '../support/webhooks.js';

const SECRET = 'outbound-secret';
let env: Awaited<ReturnType<typeof localResources>>;
/** The client counters come from the table's stream: drained before each read of a client. */
let tally: Awaited<ReturnType<typeof startTally>>;
let api: CloudApiStandIn;
let telemetry: RecordingTelemetry;
let consumer: ReturnType<typeof createConsumerHandler>;
let webhook: ReturnType<typeof createWebhookHandler>;
let status: ReturnType<typeof createStatusHandler>;

const buildService = (overrides: { delayQueueUrl?: string; timeoutMs?: number; statuses?: BatchContextReader; tokens?: () => Promise<string> } = {}) =>
  new OutboundService({
    statuses: overrides.statuses ?? new DynamoStatusReader(env.doc, env.tableName),
    phones: new DynamoPhoneOwnership(env.doc, env.tableName),
    ledger: new DynamoSendLedger(env.doc, env.tableName, 2_000, 15),
    phoneNumbers: new DynamoClientPhoneNumbers(env.doc, env.tableName),
    // Outcomes on the message items: what the tally counts parks from.
    messages: new DynamoMessageOutcomeStore(env.doc, env.tableName, 1),
    queues: new SqsOutboundQueues(env.sqs, overrides.delayQueueUrl ?? (env.queues.delay as string), env.queues.dlq as string),
    cloudApi: new HttpCloudApi(api.url, 'v25.0', overrides.timeoutMs ?? 400),
    tokens: new SecretTokenProvider(overrides.tokens ?? (async () => JSON.stringify({ default: 'default-token', byWaba: { 'waba-own-token': 'client-token' } }))),
    telemetry,
    parked: new DynamoParkedStore(env.doc, env.tableName, 86_400 * 2),
    releases: new SqsReleaseQueue(env.sqs, env.queues.release as string),
    parkDelaySchedule: [1],
    maxParkSeconds: 3600,
    maxSendAttempts: 3,
    reconnectSkewMs: 300_000,
    random: () => 0.5,
  });

beforeAll(async () => {
  env = await localResources(['outbound', 'delay', 'dlq', 'inbound', 'release']);
  api = await new CloudApiStandIn().start();
  tally = await startTally(env);
  telemetry = new RecordingTelemetry();
  const service = buildService();
  consumer = createConsumerHandler(async () => service, telemetry, (arn) => isQueueArnOf(arn, env.queues.delay as string));
  webhook = createWebhookHandler({
    store: env.store,
    inbound: new SqsInboundEventSink(env.sqs, env.queues.inbound as string),
    releases: new SqsReleaseQueue(env.sqs, env.queues.release as string),
    telemetry,
    secrets: async () => ({ appSecrets: [SECRET], verifyToken: 't' }),
    reconnectSkewMs: 300_000,
    timelineRetentionDays: 1,
  });
  status = createStatusHandler({ store: env.store, telemetry, reconnectSkewMs: 300_000 });
});

afterAll(async () => {
  await api.stop();
  await tally?.stop();
});

let seq = Math.floor(Math.random() * 1e6);
const uid = (prefix: string) => `${prefix}-${++seq}`;

const sendWebhook = async (payload: unknown) => {
  const body = Buffer.from(JSON.stringify(payload));
  const r = await webhook(httpEvent({ method: 'POST', path: '/webhook', body, headers: { 'x-hub-signature-256': signBody(body, SECRET) } }));
  expect(r.statusCode).toBe(200);
};

const envelope = (wabaId: string, to: string, extra: Record<string, unknown> = {}) => ({
  messageId: uid('msg'),
  wabaId,
  phoneNumberId: `pn-${wabaId}`,
  payload: { messaging_product: 'whatsapp', to, type: 'text', text: { body: `hello ${to}` } },
  ...extra,
});

const enqueue = async (queue: 'outbound' | 'delay', body: unknown, attributes: Record<string, string> = {}) => {
  await env.sqs.send(
    new SendMessageCommand({
      QueueUrl: env.queues[queue] as string,
      MessageBody: typeof body === 'string' ? body : JSON.stringify(body),
      ...(Object.keys(attributes).length > 0
        ? { MessageAttributes: Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, { DataType: 'String', StringValue: v }])) }
        : {}),
    }),
  );
};

/** Runs the consumer over a queue until it has been empty for `idleRounds` long polls (or `maxMs` passed). */
const pump = async (queue: 'outbound' | 'delay', idleRounds = 1, maxMs = 20_000) => {
  const deadline = Date.now() + maxMs;
  let idle = 0;
  let received = 0;
  let failed = 0;
  while (idle < idleRounds && Date.now() < deadline) {
    const r = await pollOnce(env.sqs, env.queues[queue] as string, consumer, { waitTimeSeconds: 1 });
    received += r.received;
    failed += r.failed;
    idle = r.received === 0 ? idle + 1 : 0;
  }
  return { received, failed };
};

const releaser = (ratePerSecond = 50) =>
  createReleaserHandler(
    async () =>
      new ReleaseService({
        parked: new DynamoParkedStore(env.doc, env.tableName),
        control: new DynamoReleaseStore(env.doc, env.tableName),
        statuses: new DynamoStatusReader(env.doc, env.tableName),
        requests: new SqsReleaseQueue(env.sqs, env.queues.release as string),
        pacer: new DynamoPacer(env.doc, env.tableName, paceIntervalMs(ratePerSecond)),
        callWindow: new CallWindow(ratePerSecond),
        ledger: new DynamoSendLedger(env.doc, env.tableName, 2_000, 15),
        tokens: new SecretTokenProvider(async () => JSON.stringify({ default: 'default-token', byWaba: {} })),
        cloudApi: new HttpCloudApi(api.url, 'v25.0', 400),
        queues: new SqsOutboundQueues(env.sqs, env.queues.delay as string, env.queues.dlq as string),
        telemetry,
        maxSendAttempts: 3,
        maxParkSeconds: 3600,
        reconnectSkewMs: 300_000,
      }),
    telemetry,
  );

/** Runs the releaser over the release queue until it is empty. */
const pumpRelease = async (ratePerSecond = 50) => {
  const handler = releaser(ratePerSecond);
  for (let idle = 0; idle < 1; ) {
    const r = await pollOnce(env.sqs, env.queues.release as string, handler, { waitTimeSeconds: 1 });
    idle = r.received === 0 ? idle + 1 : 0;
  }
};

const sentTo = (to: string) => api.requests.filter((r) => r.body.to === to);
const deadLetters = async (): Promise<DeadLetterBody[]> => (await drain(env.sqs, env.queues.dlq as string)).map((m) => JSON.parse(m.Body ?? '{}'));
const view = async (wabaId: string): Promise<ClientView> => {
  await tally.drain();
  const r = await status(httpEvent({ method: 'GET', path: `/clients/${wabaId}`, pathParameters: { wabaId } }));
  return JSON.parse(r.body ?? '{}');
};

describe('outbound pipeline against DynamoDB Local, fauxqs and a Cloud API stand-in', () => {
  it('parks an offboarded client, sends the others, then delivers everything exactly once after reconnection', async () => {
    const a = uid('waba');
    const b = uid('waba');
    await sendWebhook(offboarded(a, 1768477204));
    const forA = ['a1', 'a2', 'a3'].map((n) => envelope(a, uid(n)));
    const forB = ['b1', 'b2'].map((n) => envelope(b, uid(n)));
    for (const e of [...forA, ...forB]) await enqueue('outbound', e);

    await pump('outbound');
    for (const e of forB) expect(sentTo(e.payload.to)).toHaveLength(1);
    for (const e of forA) expect(sentTo(e.payload.to)).toHaveLength(0);

    const parkedView = await view(a);
    expect(parkedView.status).toBe('OFFBOARDED');
    expect(parkedView.messages).toMatchObject({ parked: 3, sent: 0 });
    expect(parkedView.messages.oldestParkedAgeSeconds).toEqual(expect.any(Number));

    // Still offboarded: the parked messages come round again (1 s schedule) and are parked again, not sent.
    await pump('delay', 99, 3_000);
    for (const e of forA) expect(sentTo(e.payload.to)).toHaveLength(0);

    await sendWebhook(reconnected(a, 1768477203)); // Meta's example: one second "before" the offboarding
    // The reconnection asked for a release: the releaser sends them; their delayed copies are then acknowledged.
    await pumpRelease();
    await pump('delay', 2);
    for (const e of forA) {
      const calls = sentTo(e.payload.to);
      expect(calls).toHaveLength(1);
      expect(calls[0]?.phoneNumberId).toBe(`pn-${a}`);
      expect(calls[0]?.authorization).toBe('Bearer default-token');
      // The payload as enqueued, plus the relay's callback data naming the message (Meta returns it on statuses).
      expect(calls[0]?.body).toEqual({ ...e.payload, biz_opaque_callback_data: encodeCallbackData(e) });
    }
    const after = await view(a);
    expect(after.messages).toMatchObject({ parked: 3, sent: 3, deadLettered: 0, oldestParkedAgeSeconds: null });
    expect((await view(b)).messages).toMatchObject({ sent: 2, parked: 0 });
  });

  it('keeps each recipient in enqueue order when new messages arrive while the release drains', async () => {
    const w = uid('waba');
    const [r1, r2] = [uid('rcp'), uid('rcp')];
    await sendWebhook(offboarded(w, 1768477204));
    const parkedFirst = Array.from({ length: 8 }, (_, i) => envelope(w, i % 2 === 0 ? r1 : r2, { payload: { messaging_product: 'whatsapp', to: i % 2 === 0 ? r1 : r2, type: 'text', text: { body: `old ${i}` } } }));
    for (const e of parkedFirst) await enqueue('outbound', e);
    await pump('outbound');
    expect((await view(w)).messages.parkedNow).toBe(8);

    await sendWebhook(reconnected(w, 1768477300));
    // The release drains slowly (4 a second); meanwhile new messages for the same recipients arrive.
    const draining = pumpRelease(4);
    await new Promise((r) => setTimeout(r, 600));
    for (const [i, to] of [r1, r2, r1].entries()) {
      await enqueue('outbound', envelope(w, to, { payload: { messaging_product: 'whatsapp', to, type: 'text', text: { body: `new ${i}` } } }));
    }
    await pump('outbound');
    await draining;
    await pumpRelease(); // a release the consumer may have asked for, if the first one ended before the new copies
    await pump('delay', 2);
    const texts = (to: string) => sentTo(to).map((r) => (r.body.text as { body: string }).body);
    expect(texts(r1)).toEqual(['old 0', 'old 2', 'old 4', 'old 6', 'new 0', 'new 2']);
    expect(texts(r2)).toEqual(['old 1', 'old 3', 'old 5', 'old 7', 'new 1']);
    const v = await view(w);
    expect(v.messages).toMatchObject({ parkedNow: 0, sent: 11 });
    expect(v.release).toMatchObject({ draining: false, last: { state: 'done' } });
  });

  it('reads each distinct client status once per batch', async () => {
    const w = uid('waba');
    const reads: number[] = [];
    const reader = new DynamoStatusReader(env.doc, env.tableName);
    const counting = buildService({
      statuses: {
        readBatch: async (ids, phones) => {
          reads.push(ids.length);
          return reader.readBatch(ids, phones);
        },
      },
    });
    const records = Array.from({ length: 10 }, (_, i) => ({ id: `r${i}`, body: JSON.stringify(envelope(w, uid('one'))), attributes: {}, fromDelayQueue: false }));
    const out = await counting.processBatch(records);
    expect(out.failedIds).toEqual([]);
    expect(reads).toEqual([1]);
  });

  it('reads statuses and ledger entries strongly consistent and phone owners eventually consistent (half the read units)', async () => {
    const asked: { keys: string[]; consistent: boolean }[] = [];
    const dynamo = localDynamo(env.dynamoEndpoint);
    (dynamo.middlewareStack as unknown as { add(mw: unknown, o: unknown): void }).add(
      (next: (a: { input: { RequestItems?: Record<string, { Keys: { pk: { S: string } }[]; ConsistentRead?: boolean }> } }) => Promise<unknown>) =>
        async (args: { input: { RequestItems?: Record<string, { Keys: { pk: { S: string } }[]; ConsistentRead?: boolean }> } }) => {
          for (const r of Object.values(args.input.RequestItems ?? {})) asked.push({ keys: r.Keys.map((k) => k.pk.S.split('#')[0] as string).sort(), consistent: r.ConsistentRead === true });
          return next(args);
        },
      { step: 'build', name: 'captureBatchGets' },
    );
    const reader = new DynamoStatusReader(documentClient(dynamo), env.tableName);
    await reader.readBatch(['w1', 'w2'], ['p1'], [{ wabaId: 'w1', messageId: 'm1' }]);
    expect(asked.sort((a, b) => Number(a.consistent) - Number(b.consistent))).toEqual([
      { keys: ['PHONE'], consistent: false },
      { keys: ['CLIENT', 'CLIENT', 'WABA'], consistent: true },
    ]);
    dynamo.destroy();
  });

  it('uses the per-client token when one is configured', async () => {
    const e = envelope('waba-own-token', uid('tok'));
    await enqueue('outbound', e);
    await pump('outbound');
    expect(sentTo(e.payload.to)[0]?.authorization).toBe('Bearer client-token');
  });

  it('sends a duplicated messageId once, whether SQS redelivers it or upstream enqueued it twice', async () => {
    const w = uid('waba');
    const e = envelope(w, uid('dup'));
    const before = telemetry.get('DuplicateSuppressed');
    await enqueue('outbound', e);
    await enqueue('outbound', e);
    const first = await pump('outbound');
    await enqueue('outbound', e);
    const second = await pump('outbound');
    expect(sentTo(e.payload.to)).toHaveLength(1);
    // Every copy was acknowledged (none left to come back), two of them as duplicates.
    expect(first.failed + second.failed).toBe(0);
    expect(telemetry.get('DuplicateSuppressed')).toBe(before + 2);
    const ledger = await env.doc.send(new GetCommand({ TableName: env.tableName, Key: { pk: `WABA#${w}#MSG#${e.messageId}`, sk: 'SEND' } }));
    expect(ledger.Item).toMatchObject({ state: 'SENT', wamid: expect.stringMatching(/^wamid\./) });
  });

  it('keeps a message whose delay-queue send fails: reported as a batch item failure, not sent, not lost', async () => {
    const w = uid('waba');
    await sendWebhook(offboarded(w, 1_768_000_100));
    const broken = createConsumerHandler(async () => buildService({ delayQueueUrl: `${env.queues.delay}-missing` }), telemetry, () => false);
    const e = envelope(w, uid('keep'));
    const response = (await broken({
      Records: [{ messageId: 'sqs-1', receiptHandle: 'x', body: JSON.stringify(e), attributes: {} as never, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn', awsRegion: 'us-east-1' }],
    })) as SQSBatchResponse;
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'sqs-1' }]);
    expect(sentTo(e.payload.to)).toHaveLength(0);
  });

  it('dead-letters messages for a removed client, expired messages and malformed bodies, with the right reason', async () => {
    const removed = uid('waba');
    await sendWebhook(partnerEvent('partner', removed, 'PARTNER_REMOVED', 1_768_000_100, { disconnection_info: { reason: 'USER_RE_REGISTERED', initiated_by: 'USER' } }));
    const toRemoved = envelope(removed, uid('rm'), { metadata: { orderId: 42 } });
    const expired = envelope(uid('waba'), uid('exp'), { notAfter: '2020-01-01T00:00:00Z' });
    await enqueue('outbound', toRemoved);
    await enqueue('outbound', expired);
    await enqueue('outbound', 'this is { not json');
    await enqueue('outbound', { messageId: 'x', wabaId: 'w' });
    const { failed } = await pump('outbound');
    expect(failed).toBe(0);
    const dl = await deadLetters();
    const byReason = (reason: string) => dl.filter((d) => d.reason === reason);
    expect(byReason('client-removed').map((d) => d.envelope)).toContainEqual(toRemoved);
    expect(byReason('expired').map((d) => (d.envelope as { messageId: string }).messageId)).toContain(expired.messageId);
    const invalid = byReason('invalid-envelope');
    expect(invalid.map((d) => d.envelope)).toEqual(expect.arrayContaining(['this is { not json', JSON.stringify({ messageId: 'x', wabaId: 'w' })]));
    for (const d of dl) expect(Date.parse(d.deadLetteredAt)).not.toBeNaN();
    expect(sentTo(toRemoved.payload.to)).toHaveLength(0);
    expect(sentTo(expired.payload.to)).toHaveLength(0);
    expect((await view(removed)).messages.deadLettered).toBe(1);
  });

  it('retries throttling and transient errors through the delay queue until they succeed', async () => {
    const w = uid('waba');
    const scripted = new Map<string, ReturnType<typeof metaError>[]>([
      [uid('e500'), [{ status: 500, body: { error: { message: 'oops', code: 1 } } }]],
      [uid('e429'), [{ status: 429, body: {} }]],
      [uid('t130429'), [metaError(400, 130429, 'Rate limit hit')]],
    ]);
    const saved = api.respond;
    api.respond = (req) => scripted.get(String(req.body.to))?.shift() ?? accepted(String(req.body.to));
    try {
      for (const to of scripted.keys()) await enqueue('outbound', envelope(w, to));
      await pump('outbound');
      await pump('delay', 3);
    } finally {
      api.respond = saved;
    }
    for (const to of scripted.keys()) expect(sentTo(to)).toHaveLength(2);
    expect((await view(w)).messages.sent).toBe(3);
  });

  it('backs off at least 6 s on the pair rate limit (131056)', async () => {
    const to = uid('pair');
    const saved = api.respond;
    api.respond = (req) => (req.body.to === to && sentTo(to).length === 1 ? metaError(400, 131056, 'pair rate limit') : accepted(String(req.body.to)));
    try {
      await enqueue('outbound', envelope(uid('waba'), to));
      await pump('outbound');
      const early = await pump('delay', 3); // ~3 s: too early
      expect(early.received).toBe(0);
      await pump('delay', 6);
    } finally {
      api.respond = saved;
    }
    expect(sentTo(to)).toHaveLength(2);
  });

  it('parks a message when the Cloud API says the number is not connected (133010) and sends it later', async () => {
    const w = uid('waba');
    const to = uid('park');
    const saved = api.respond;
    api.respond = (req) => (req.body.to === to && sentTo(to).length <= 2 ? metaError(400, 133010, 'Account not registered') : accepted(String(req.body.to)));
    try {
      await enqueue('outbound', envelope(w, to));
      await pump('outbound');
      expect((await view(w)).messages.parked).toBe(1);
      await pump('delay', 3);
    } finally {
      api.respond = saved;
    }
    expect(sentTo(to)).toHaveLength(3);
    expect((await view(w)).messages).toMatchObject({ sent: 1, oldestParkedAgeSeconds: null });
  });

  it("dead-letters a permanent rejection with Meta's code, message and fbtrace_id", async () => {
    const to = uid('perm');
    const saved = api.respond;
    api.respond = (req) => (req.body.to === to ? metaError(400, 131026, 'Message undeliverable') : accepted(String(req.body.to)));
    try {
      await enqueue('outbound', envelope(uid('waba'), to));
      await pump('outbound');
    } finally {
      api.respond = saved;
    }
    const dl = (await deadLetters()).find((d) => typeof d.envelope === 'object' && d.envelope.payload.to === to);
    expect(dl).toMatchObject({
      reason: 'rejected-by-cloud-api',
      cloudApiError: { code: 131026, message: 'Message undeliverable', httpStatus: 400, fbtraceId: expect.stringMatching(/^trace-/) },
    });
    expect(sentTo(to)).toHaveLength(1);
  });

  it('gives up after MAX_SEND_ATTEMPTS retryable failures, dead-lettering with the last error', async () => {
    const to = uid('flaky');
    const saved = api.respond;
    api.respond = (req) => (req.body.to === to ? metaError(503, 131016, 'Service unavailable') : accepted(String(req.body.to)));
    try {
      await enqueue('outbound', envelope(uid('waba'), to));
      await pump('outbound');
      await pump('delay', 5);
    } finally {
      api.respond = saved;
    }
    // Attempts 1 and 2 are retried after 1 s and 4 s; the third reaches MAX_SEND_ATTEMPTS (3 here).
    expect(sentTo(to)).toHaveLength(3);
    const dl = (await deadLetters()).find((d) => typeof d.envelope === 'object' && d.envelope.payload.to === to);
    expect(dl).toMatchObject({ reason: 'rejected-by-cloud-api', sendAttempts: 3, detail: expect.stringContaining('131016') });
  });

  it('retries a hanging request after the timeout and counts the resend as ambiguous', async () => {
    const w = uid('waba');
    const to = uid('hang');
    const saved = api.respond;
    api.respond = (req) => (req.body.to === to && sentTo(to).length === 1 ? 'hang' : accepted(String(req.body.to)));
    const before = telemetry.get('AmbiguousResends');
    try {
      await enqueue('outbound', envelope(w, to));
      await pump('outbound');
      await pump('delay', 3);
    } finally {
      api.respond = saved;
    }
    expect(sentTo(to)).toHaveLength(2);
    expect(telemetry.get('AmbiguousResends')).toBe(before + 1);
    expect((await view(w)).messages).toMatchObject({ sent: 1, ambiguousResends: 1 });
  });

  it('reports every record of a batch when the status read fails, and sends nothing', async () => {
    const failing = buildService({ statuses: { readBatch: async () => Promise.reject(new Error('DynamoDB unavailable')) } });
    const to = uid('nostatus');
    const out = await failing.processBatch([
      { id: 'ok', body: JSON.stringify(envelope('w', to)), attributes: {}, fromDelayQueue: false },
      { id: 'bad', body: 'nope', attributes: {}, fromDelayQueue: false },
    ]);
    expect(out.failedIds).toEqual(['ok']); // the malformed one still went to the dead-letter queue
    expect(sentTo(to)).toHaveLength(0);
  });

  it('sends the same messageId once per WABA: keyed by (wabaId, messageId) in the ledger', async () => {
    const [w1, w2] = [uid('waba'), uid('waba')];
    const messageId = uid('shared');
    const first = { ...envelope(w1 as string, uid('to1')), messageId };
    const second = { ...envelope(w2 as string, uid('to2')), messageId };
    await enqueue('outbound', first);
    await enqueue('outbound', second);
    await enqueue('outbound', second);
    await pump('outbound');
    expect(sentTo(first.payload.to)).toHaveLength(1);
    expect(sentTo(second.payload.to)).toHaveLength(1);
    for (const w of [w1, w2]) {
      const item = await env.doc.send(new GetCommand({ TableName: env.tableName, Key: { pk: `WABA#${w}#MSG#${messageId}`, sk: 'SEND' } }));
      expect(item.Item).toMatchObject({ state: 'SENT', wabaId: w });
    }
  });

  it("learns a phone number's owner from a send, and dead-letters another WABA's message from that number", async () => {
    const [owner, other] = [uid('waba'), uid('waba')];
    const phone = uid('pn');
    const mine = { ...envelope(owner as string, uid('own')), phoneNumberId: phone };
    await enqueue('outbound', mine);
    await pump('outbound');
    expect(sentTo(mine.payload.to)).toHaveLength(1);
    const item = await env.doc.send(new GetCommand({ TableName: env.tableName, Key: { pk: `PHONE#${phone}`, sk: 'OWNER' } }));
    expect(item.Item).toMatchObject({ wabaId: owner, learnedFrom: 'send', learnedAt: expect.any(Number) });

    const theirs = { ...envelope(other as string, uid('steal')), phoneNumberId: phone };
    await enqueue('outbound', theirs);
    await pump('outbound');
    expect(sentTo(theirs.payload.to)).toHaveLength(0);
    const dl = (await deadLetters()).find((d) => typeof d.envelope === 'object' && d.envelope.messageId === theirs.messageId);
    expect(dl).toMatchObject({ reason: 'phone-number-mismatch', envelope: theirs });
    expect(dl?.detail).toContain(`belongs to WABA ${owner}`);
  });

  it('dead-letters a message for a WABA without a token (no-access-token) and sends it once the token is set and its dead letter redriven', async () => {
    const w = uid('waba');
    let secret = JSON.stringify({ byWaba: { 'someone-else': 'their-token' } });
    const service = buildService({ tokens: async () => secret });
    const handler = createConsumerHandler(async () => service, telemetry, () => false);
    const e = envelope(w, uid('notoken'));
    await enqueue('outbound', e);
    expect((await pollOnce(env.sqs, env.queues.outbound as string, handler, { waitTimeSeconds: 1 })).failed).toBe(0);
    const dl = (await deadLetters()).find((d) => typeof d.envelope === 'object' && d.envelope.messageId === e.messageId);
    expect(dl).toMatchObject({ reason: 'no-access-token', envelope: e });
    expect(sentTo(e.payload.to)).toHaveLength(0);

    secret = JSON.stringify({ byWaba: { [w]: 'now-set' } });
    // The same envelope enqueued again is another copy of a dead-lettered message: final, acknowledged, not sent.
    await enqueue('outbound', dl?.envelope);
    expect((await pollOnce(env.sqs, env.queues.outbound as string, handler, { waitTimeSeconds: 1 })).failed).toBe(0);
    // A redrive names some other dead letter: still final.
    await enqueue('outbound', dl?.envelope, { 'relay-redrive-of': '2000-01-01T00:00:00.000Z' });
    await pollOnce(env.sqs, env.queues.outbound as string, handler, { waitTimeSeconds: 1 });
    expect(sentTo(e.payload.to)).toHaveLength(0);
    // The redrive of this very dead letter reopens it, once.
    await enqueue('outbound', dl?.envelope, { 'relay-redrive-of': String(dl?.deadLetteredAt) });
    await pollOnce(env.sqs, env.queues.outbound as string, handler, { waitTimeSeconds: 1 });
    expect(sentTo(e.payload.to).map((r) => r.authorization)).toEqual(['Bearer now-set']);
    await enqueue('outbound', dl?.envelope, { 'relay-redrive-of': String(dl?.deadLetteredAt) });
    await pollOnce(env.sqs, env.queues.outbound as string, handler, { waitTimeSeconds: 1 });
    expect(sentTo(e.payload.to)).toHaveLength(1);
  });

  it('ignores park attributes set by the sender on the outbound queue, and honours its own on the delay queue', async () => {
    const w = uid('waba');
    await sendWebhook(offboarded(w, 1_768_000_000));
    const forged = { 'relay-park-count': '7', 'relay-first-parked-at': '2000-01-01T00:00:00.000Z', 'relay-send-attempts': '0' };
    const e = envelope(w, uid('forged'));
    await enqueue('outbound', e, forged);
    await pump('outbound');
    const parked = await drain(env.sqs, env.queues.delay as string);
    const mine = parked.find((m) => (JSON.parse(m.Body ?? '{}') as { messageId?: string }).messageId === e.messageId);
    expect(mine?.MessageAttributes?.['relay-park-count']?.StringValue).toBe('1');
    expect(Date.now() - Date.parse(mine?.MessageAttributes?.['relay-first-parked-at']?.StringValue ?? '')).toBeLessThan(60_000);

    // On the delay queue the attributes are the relay's: this one has waited too long.
    const late = envelope(w, uid('late'));
    await enqueue('delay', late, forged);
    await pump('delay');
    const dl = (await deadLetters()).find((d) => typeof d.envelope === 'object' && d.envelope.messageId === late.messageId);
    expect(dl).toMatchObject({ reason: 'expired', parkCount: 7, firstParkedAt: '2000-01-01T00:00:00.000Z' });
  });

  it('dead-letters bodies SQS would refuse if written naively: ~1 MiB, escaped quotes, U+FFFF', async () => {
    const removed = uid('waba');
    await sendWebhook(partnerEvent('partner', removed, 'PARTNER_REMOVED', 1_768_000_100));
    const huge = `{"messageId":"${'x'.repeat(1_048_000)}"}`;
    const quotes = '\\"'.repeat(60_000);
    const ffff = envelope(removed, uid('ffff'), { metadata: { note: 'a\uffff\u0000\ud800😀' } });
    await enqueue('outbound', huge);
    await enqueue('outbound', quotes);
    await enqueue('outbound', toSqsJson(ffff));
    const { failed } = await pump('outbound');
    expect(failed).toBe(0);
    const dl = await deadLetters();
    const truncated = dl.find((d) => d.truncated !== undefined);
    expect(truncated).toMatchObject({
      reason: 'invalid-envelope',
      truncated: { originalBytes: huge.length, sha256: createHash('sha256').update(huge).digest('hex') },
    });
    expect(dl.map((d) => d.envelope)).toContainEqual(quotes);
    const removedDl = dl.find((d) => d.reason === 'client-removed');
    expect(removedDl?.envelope).toMatchObject({ metadata: { note: 'a\uffff\u0000\ud800😀' } });
  });
});
