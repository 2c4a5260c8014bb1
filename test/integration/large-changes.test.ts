import { createHash, randomUUID } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { S3LargeValueStore } from '../../lambdas/adapters/s3-large-values.js';
import { SqsInboundEventSink } from '../../lambdas/adapters/sqs.js';
import { SqsReleaseQueue } from '../../lambdas/adapters/sqs-release.js';
import { largeValueKey, META_MAX_CHANGE_BYTES } from '../../lambdas/core/webhook/inbound-message.js';
import type { LargeValueStore } from '../../lambdas/core/webhook/ports.js';
import { signBody } from '../../lambdas/core/webhook/signature.js';
import { createWebhookHandler } from '../../lambdas/webhook/handler.js';
import { ensureBucket, localS3 } from '../../local/services.js';
import { drain, httpEvent, localResources } from '../support/aws.js';
import { RecordingTelemetry } from '../support/telemetry.js';
import { historyWebhook, messagesChange } from '../support/webhooks.js';

/**
 * No change cut short: a change too large for one SQS message goes whole to S3 (fauxqs's) and its inbound-events
 * message points at it (`valueRef`), through the real webhook handler, DynamoDB Local and the SQS emulator.
 */
const SECRET = 'large-changes-secret';
let env: Awaited<ReturnType<typeof localResources>>;
let s3: S3Client;
let bucket: string;

const storeFor = (b: string, fetchFn?: typeof fetch) =>
  new S3LargeValueStore({ bucket: b, region: 'us-east-1', endpoint: inject('sqsEndpoint'), credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, ...(fetchFn ? { fetch: fetchFn } : {}) });

const handlerWith = (store: LargeValueStore) =>
  createWebhookHandler({
    store: env.store,
    inbound: new SqsInboundEventSink(env.sqs, env.queues.inbound as string, store),
    releases: new SqsReleaseQueue(env.sqs, env.queues.release as string),
    telemetry: new RecordingTelemetry(),
    secrets: async () => ({ appSecrets: [SECRET], verifyToken: 'v' }),
    reconnectSkewMs: 300_000,
    timelineRetentionDays: 30,
  });

const post = (handler: ReturnType<typeof createWebhookHandler>, body: Buffer) =>
  handler(httpEvent({ method: 'POST', path: '/webhook', body, headers: { 'x-hub-signature-256': signBody(body, SECRET), 'content-type': 'application/json' } }));

const uniqueWaba = () => String(Math.floor(Math.random() * 1e12));

const queuedFor = async (waba: string) =>
  (await drain(env.sqs, env.queues.inbound as string))
    .filter((m) => m.MessageAttributes?.wabaId?.StringValue === waba)
    .map((m) => ({ body: JSON.parse(m.Body ?? '{}'), attributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue])), raw: m.Body ?? '' }));

const objectsUnder = async (prefix: string) => (await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? [];

beforeAll(async () => {
  env = await localResources(['inbound', 'release']);
  s3 = localS3(inject('sqsEndpoint'));
  bucket = await ensureBucket(s3, `inbound-${randomUUID().slice(0, 8)}`);
});

afterAll(() => s3.destroy());

describe('a change too large for one SQS message', () => {
  it('a 2.9 MB history change reaches the consumer whole: the message points at the object, bytes and sha256 equal, the value deep-equal', async () => {
    const waba = uniqueWaba();
    const payload = historyWebhook(waba, 2_900_000);
    const body = Buffer.from(JSON.stringify(payload));
    expect(body.length).toBeGreaterThan(2_890_000);
    expect(body.length).toBeLessThan(3_000_000);
    const handler = handlerWith(storeFor(bucket));
    expect((await post(handler, body)).statusCode).toBe(200);

    const queued = await queuedFor(waba);
    expect(queued).toHaveLength(1);
    const [m] = queued as [(typeof queued)[number]];
    expect(m.attributes).toMatchObject({ field: 'history', wabaId: waba, valueRef: 'true', dedupeId: m.body.dedupeId });
    expect(m.body.value).toBeUndefined();
    expect(m.body).toMatchObject({ field: 'history', wabaId: waba, entryTime: null, receivedAt: expect.any(String) });
    expect(m.body.valueRef).toEqual({ bucket, key: largeValueKey({ wabaId: waba, dedupeId: m.body.dedupeId }), bytes: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(m.body.valueRef.key).toBe(`inbound/${waba}/${m.body.dedupeId}.json`);
    expect(m.raw.length).toBeLessThan(2000);

    // What a consumer does (docs/webhooks.md): get the object, check its bytes and sha256, parse it.
    const object = await s3.send(new GetObjectCommand({ Bucket: m.body.valueRef.bucket, Key: m.body.valueRef.key }));
    expect(object.ContentType).toBe('application/json');
    const bytes = Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    expect(bytes.length).toBe(m.body.valueRef.bytes);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(m.body.valueRef.sha256);
    expect(JSON.parse(bytes.toString('utf8'))).toEqual(payload.entry[0]?.changes[0]?.value);

    // Meta delivers the same POST again: the same object is overwritten, not a second one added.
    expect((await post(handler, body)).statusCode).toBe(200);
    expect((await objectsUnder(`inbound/${waba}/`)).map((o) => o.Key)).toEqual([m.body.valueRef.key]);
    // Its message is queued again (the first one is still hidden by the drain above), pointing at the same object.
    const again = await queuedFor(waba);
    expect(again.map((x) => x.body.valueRef)).toEqual([m.body.valueRef]);
  }, 60_000);

  it('a change over Meta\'s 3 MB (a 3.1 MB POST) is still forwarded as unreadable, truncated, with its reason; nothing is stored', async () => {
    const waba = uniqueWaba();
    const body = Buffer.from(JSON.stringify(historyWebhook(waba, 3_100_000)));
    expect(body.length).toBeGreaterThan(3_090_000);
    expect((await post(handlerWith(storeFor(bucket)), body)).statusCode).toBe(200);
    const queued = await queuedFor(waba);
    expect(queued).toHaveLength(1);
    const [m] = queued as [(typeof queued)[number]];
    expect(m.attributes).toMatchObject({ field: 'unreadable', wabaId: waba });
    expect(m.attributes.valueRef).toBeUndefined();
    expect(m.body.problem).toMatch(new RegExp(`^too-large: a "history" change of \\d{7} bytes, over Meta's ${META_MAX_CHANGE_BYTES}-byte limit, forwarded truncated$`));
    expect(m.body.truncated.originalBytes).toBeGreaterThan(META_MAX_CHANGE_BYTES);
    expect(m.body.truncated.text.length).toBe(16 * 1024);
    expect(m.body.valueRef).toBeUndefined();
    expect(await objectsUnder(`inbound/${waba}/`)).toEqual([]);
  }, 60_000);

  it('S3 failing answers 500 and queues nothing of the POST, not even its small changes; the redelivery forwards all', async () => {
    const waba = uniqueWaba();
    const history = historyWebhook(waba, 1_500_000);
    const payload = { ...history, entry: history.entry.map((e) => ({ ...e, changes: [...e.changes, messagesChange(waba, 1_767_000_000)] })) };
    const body = Buffer.from(JSON.stringify(payload));
    let puts = 0;
    const failing: typeof fetch = async () => {
      puts++;
      return new Response('<Error><Code>ServiceUnavailable</Code></Error>', { status: 503 });
    };
    expect((await post(handlerWith(storeFor(bucket, failing)), body)).statusCode).toBe(500);
    expect(puts).toBe(2); // one retry, then the POST fails
    expect(await queuedFor(waba)).toEqual([]);
    // A bucket that does not exist is not retried, and fails the POST the same way.
    expect((await post(handlerWith(storeFor(`no-such-${bucket}`)), body)).statusCode).toBe(500);
    expect(await queuedFor(waba)).toEqual([]);

    expect((await post(handlerWith(storeFor(bucket)), body)).statusCode).toBe(200);
    const queued = await queuedFor(waba);
    expect(queued.map((m) => [m.body.field, m.attributes.valueRef ?? null]).sort()).toEqual([
      ['history', 'true'],
      ['messages', null],
    ]);
  }, 60_000);
});
