import { dynamoOutboundStores } from '../support/outbound-stores.js';
import { RecordingReleases, runRelease } from '../support/release.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpCloudApi, SecretTokenProvider } from '../../lambdas/adapters/cloud-api.js';
import { DynamoClientHealthStore } from '../../lambdas/adapters/dynamo/client-health-store.js';
import { SqsInboundEventSink, SqsOutboundQueues } from '../../lambdas/adapters/sqs.js';
import { ClientHealthService } from '../../lambdas/core/health/client-health-service.js';
import type { ClientView } from '../../lambdas/core/status/client-view.js';
import { OutboundService, type OutboundRecord } from '../../lambdas/core/outbound/outbound-service.js';
import type { QueueMessage } from '../../lambdas/core/outbound/ports.js';
import type { ReleaseTrigger } from '../../lambdas/core/release/ports.js';
import { signBody } from '../../lambdas/core/webhook/signature.js';
import { createStatusHandler } from '../../lambdas/status/handler.js';
import { createWebhookHandler } from '../../lambdas/webhook/handler.js';
import { CloudApiStandIn } from '../../local/cloud-api-stand-in.js';
import { drain, httpEvent, localResources } from '../support/aws.js';
import { RecordingTelemetry } from '../support/telemetry.js';
import { accountUpdate, reconnected } from '../support/webhooks.js';

const SECRET = 'hold-secret';
let env: Awaited<ReturnType<typeof localResources>>;
let api: CloudApiStandIn;
let webhook: ReturnType<typeof createWebhookHandler>;
let status: ReturnType<typeof createStatusHandler>;

beforeAll(async () => {
  env = await localResources(['delay', 'dlq', 'inbound']);
  api = await new CloudApiStandIn().start();
  webhook = createWebhookHandler({
    store: env.store,
    inbound: new SqsInboundEventSink(env.sqs, env.queues.inbound as string),
    releases: { requestRelease: async () => undefined },
    telemetry: new RecordingTelemetry(),
    secrets: async () => ({ appSecrets: [SECRET], verifyToken: 't' }),
    reconnectSkewMs: 300_000,
    timelineRetentionDays: 1,
  });
  status = createStatusHandler({ store: env.store, telemetry: new RecordingTelemetry(), reconnectSkewMs: 300_000 });
});

afterAll(async () => {
  await api.stop();
});

let seq = Math.floor(Math.random() * 1e6);
const uid = (prefix: string) => `${prefix}-${++seq}`;

/** A consumer with holds and probes on a clock the test moves. */
const consumer = () => {
  const clock = { now: Date.now() };
  const telemetry = new RecordingTelemetry();
  const releases: { wabaId: string; trigger: ReleaseTrigger }[] = [];
  const http = new HttpCloudApi(api.url, 'v25.0', 2_000);
  const tokens = new SecretTokenProvider(async () => 'hold-token');
  const real = new SqsOutboundQueues(env.sqs, env.queues.delay as string, env.queues.dlq as string);
  const parked: QueueMessage[] = [];
  const health = new ClientHealthService({
    store: new DynamoClientHealthStore(env.doc, env.tableName),
    api: http,
    tokens,
    release: { requestRelease: async (wabaId, trigger) => void releases.push({ wabaId, trigger }) },
    telemetry,
    policy: { intervalSeconds: 60, maxIntervalSeconds: 900, budgetShare: 0.02, budgetPerHour: 5000, probeEndsOffboarding: false },
    now: () => clock.now,
  });
  const service = new OutboundService({
    ...dynamoOutboundStores(env.doc, env.tableName, { leaseMs: 2_000, retentionDays: 1 }),
    releases: new RecordingReleases(),
    // The real queues, watched: what went to the delay queue (with its delay) is what the test reads.
    queues: {
      park: async (messages) => {
        const failed = await real.park(messages);
        parked.push(...messages.filter((m) => !failed.has(m.id)));
        return failed;
      },
      deadLetter: (messages) => real.deadLetter(messages),
    },
    cloudApi: http,
    tokens,
    telemetry,
    parkDelaySchedule: [10],
    maxParkSeconds: 3600,
    maxSendAttempts: 3,
    reconnectSkewMs: 300_000,
    random: () => 0.5,
    now: () => clock.now,
    health,
  });
  const parkedFor = (wabaId: string) =>
    parked.filter((m) => JSON.parse(m.body).wabaId === wabaId).map((m) => ({ body: m.body, delaySeconds: m.delaySeconds ?? 0, attributes: m.attributes ?? {} }));
  return { clock, telemetry, releases, service, parkedFor };
};

const record = (wabaId: string, type: 'text' | 'template' = 'text'): OutboundRecord => {
  const messageId = uid('m');
  const payload =
    type === 'text'
      ? { messaging_product: 'whatsapp', to: `to-${messageId}`, type: 'text', text: { body: 'hi' } }
      : { messaging_product: 'whatsapp', to: `to-${messageId}`, type: 'template', template: { name: 'order_shipped', language: { code: 'en' } } };
  return { id: `sqs-${messageId}`, body: JSON.stringify({ messageId, wabaId, phoneNumberId: `pn-${wabaId}`, payload }), attributes: {}, fromDelayQueue: false };
};

const sendsTo = (wabaId: string) => api.requests.filter((r) => r.phoneNumberId === `pn-${wabaId}`);
const probesOf = (wabaId: string) => api.probes.filter((p) => p.phoneNumberId === `pn-${wabaId}`);

const sendWebhook = async (payload: unknown) => {
  const body = Buffer.from(JSON.stringify(payload));
  const r = await webhook(httpEvent({ method: 'POST', path: '/webhook', body, headers: { 'x-hub-signature-256': signBody(body, SECRET) } }));
  expect(r.statusCode).toBe(200);
};

const view = async (wabaId: string): Promise<ClientView> => {
  const r = await status(httpEvent({ method: 'GET', path: `/clients/${wabaId}`, pathParameters: { wabaId } }));
  return JSON.parse(r.body ?? '{}');
};


describe('hold on refusal', () => {
  it('the first refused send holds the client: the nine other messages of the batch park without a call', async () => {
    const w = uid('waba');
    await sendWebhook(reconnected(w, Math.floor(Date.now() / 1000) - 3600));
    await runRelease(env.doc, env.tableName, w, new HttpCloudApi(api.url, 'v25.0', 2_000)); // the release the reconnection asked for
    api.refuseNumber(`pn-${w}`);
    const c = consumer();
    const batch = Array.from({ length: 10 }, () => record(w));
    const out = await c.service.processBatch(batch);
    expect(out.failedIds).toEqual([]);
    expect(sendsTo(w)).toHaveLength(1);
    expect(c.telemetry.get('CloudApiRefusedCalls')).toBe(1);
    expect(c.telemetry.get('HoldsStarted')).toBe(1);
    expect(c.telemetry.get('ParkedByHold')).toBe(9);
    expect(c.parkedFor(w)).toHaveLength(10);
    expect(c.parkedFor(w).every((p) => p.delaySeconds === 10)).toBe(true);
    // Probed right after the hold started; the number still refuses, so the hold stays.
    expect(probesOf(w)).toHaveLength(1);
    let v = await view(w);
    expect(v.status).toBe('CONNECTED');
    expect(v.health.hold).toMatchObject({ state: 'in-force', code: '133010', phoneNumberId: `pn-${w}` });
    expect(v.health.lastProbe).toMatchObject({ verdict: 'cannot-send', reason: 'hold-started' });
    expect(v.messages.parkedNow).toBe(10); // the running totals are the tally function's (test/integration/tally.test.ts)

    // The next batch reads the hold with the status: no call at all, and no probe before the interval.
    c.clock.now += 30_000;
    await c.service.processBatch(Array.from({ length: 5 }, () => record(w)));
    expect(sendsTo(w)).toHaveLength(1);
    expect(probesOf(w)).toHaveLength(1);
    expect(c.parkedFor(w)).toHaveLength(15);

    // After the interval the batch probes again; the number is back: the hold ends and a release is asked for.
    api.acceptNumber(`pn-${w}`);
    c.clock.now += 31_000;
    await c.service.processBatch([record(w)]);
    expect(sendsTo(w)).toHaveLength(1); // this batch read the hold before the probe: it parked
    expect(probesOf(w)).toHaveLength(2);
    expect(c.releases).toEqual([{ wabaId: w, trigger: 'probe-can-send' }]);
    expect(c.telemetry.get('HoldsEnded{"by":"probe"}')).toBe(1);
    v = await view(w);
    expect(v.health.hold).toMatchObject({ state: 'ended', endedBy: 'probe' });
    // Released (or back from their delay hop), the messages go out.
    const back = await c.service.processBatch([record(w), record(w)]);
    expect(back.failedIds).toEqual([]);
    expect(sendsTo(w)).toHaveLength(3);
    await drain(env.sqs, env.queues.delay as string);
  });

  it('a probe error keeps the hold and backs off', async () => {
    const w = uid('waba');
    api.refuseNumber(`pn-${w}`);
    const c = consumer();
    await c.service.processBatch([record(w), record(w)]);
    api.acceptNumber(`pn-${w}`);
    const probeReply = api.probeReply;
    api.probeReply = () => ({ status: 503, body: { error: { code: 2, message: 'Service temporarily unavailable' } } });
    try {
      c.clock.now += 61_000;
      await c.service.processBatch([record(w)]);
      expect(probesOf(w)).toHaveLength(2);
      expect(c.releases).toEqual([]);
      const v = await view(w);
      expect(v.health).toMatchObject({ hold: { state: 'in-force' }, lastProbe: { verdict: 'error', reason: 'hold-backoff' } });
      // Backoff: the next turn is two intervals later.
      expect(Date.parse(v.health.nextProbeAt ?? '')).toBe(c.clock.now + 120_000);
      expect(sendsTo(w)).toHaveLength(1);
    } finally {
      api.probeReply = probeReply;
      await drain(env.sqs, env.queues.delay as string);
    }
  });

  it('a newer status event from Meta ends the hold: the next batch sends', async () => {
    const w = uid('waba');
    api.refuseNumber(`pn-${w}`);
    const c = consumer();
    await c.service.processBatch([record(w)]);
    expect((await view(w)).health.hold?.state).toBe('in-force');
    api.acceptNumber(`pn-${w}`);
    await sendWebhook(reconnected(w, Math.floor(c.clock.now / 1000) + 5));
    // The release the reconnection asked for sends the message the hold parked (the refused call was the first).
    expect((await runRelease(env.doc, env.tableName, w, new HttpCloudApi(api.url, 'v25.0', 2_000))).progress).toMatchObject({ sent: 1 });
    expect(sendsTo(w)).toHaveLength(2);
    await c.service.processBatch([record(w)]);
    expect(sendsTo(w)).toHaveLength(3);
    expect((await view(w)).health.hold).toMatchObject({ state: 'ended', endedBy: 'status-event' });
    await drain(env.sqs, env.queues.delay as string);
  });

  it('concurrent consumers trip the same hold once', async () => {
    const w = uid('waba');
    api.refuseNumber(`pn-${w}`);
    const consumers = [consumer(), consumer(), consumer()];
    await Promise.all(consumers.map((c) => c.service.processBatch(Array.from({ length: 5 }, () => record(w)))));
    const started = consumers.reduce((n, c) => n + c.telemetry.get('HoldsStarted'), 0);
    expect(started).toBe(1);
    // At most one refused call per consumer that read the client before the hold existed, never one per message.
    expect(sendsTo(w).length).toBeGreaterThanOrEqual(1);
    expect(sendsTo(w).length).toBeLessThanOrEqual(3);
    expect(consumers.reduce((n, c) => n + c.parkedFor(w).length, 0)).toBe(15);
    expect(probesOf(w)).toHaveLength(1);
  });
});

describe('restrictions', () => {
  const restrict = async (w: string, type: string, expiresSec: number) =>
    sendWebhook(accountUpdate(w, 'ACCOUNT_RESTRICTION', Math.floor(Date.now() / 1000) - 10, { restriction_info: [{ restriction_type: type, expiration: expiresSec }] }));

  it.each([
    ['RESTRICTED_BIZ_INITIATED_MESSAGING', 'template', 'text'],
    ['RESTRICTED_CUSTOMER_INITIATED_MESSAGING', 'text', 'template'],
  ] as const)('%s parks %s messages until it expires and sends %s messages', async (type, parkedType, sentType) => {
    const w = uid('waba');
    const c = consumer();
    const expiresSec = Math.floor(c.clock.now / 1000) + 120;
    await restrict(w, type, expiresSec);
    const held = record(w, parkedType);
    const free = record(w, sentType);
    await c.service.processBatch([held, free]);
    expect(sendsTo(w).map((r) => r.body.type)).toEqual([sentType]);
    expect(c.telemetry.get('ParkedByRestriction')).toBe(1);
    const mine = c.parkedFor(w);
    expect(mine).toHaveLength(1);
    // It wakes just after the expiration.
    expect(mine[0]?.delaySeconds).toBe(121);
    c.clock.now = expiresSec * 1000 + 1_000;
    const again: OutboundRecord = { id: 'again', body: mine[0]?.body ?? '', attributes: mine[0]?.attributes ?? {}, fromDelayQueue: true };
    await c.service.processBatch([again]);
    expect(sendsTo(w).map((r) => r.body.type)).toEqual([sentType, parkedType]);
  });

  it('dead-letters expired at once when the restriction outlasts the message deadline', async () => {
    const w = uid('waba');
    const c = consumer();
    await restrict(w, 'RESTRICTED_BIZ_INITIATED_MESSAGING', Math.floor(c.clock.now / 1000) + 7200);
    const r = record(w, 'template');
    const body = { ...JSON.parse(r.body), notAfter: new Date(c.clock.now + 600_000).toISOString() };
    await c.service.processBatch([{ ...r, body: JSON.stringify(body) }]);
    expect(sendsTo(w)).toHaveLength(0);
    const dead = (await drain(env.sqs, env.queues.dlq as string)).map((m) => JSON.parse(m.Body ?? '{}')).filter((d) => d.envelope?.wabaId === w);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ reason: 'expired' });
    expect(dead[0]?.detail).toContain('RESTRICTED_BIZ_INITIATED_MESSAGING');
  });
});
