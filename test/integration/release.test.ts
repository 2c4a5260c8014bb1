import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpCloudApi, SecretTokenProvider } from '../../lambdas/adapters/cloud-api.js';
import { DynamoSendLedger, DynamoStatusReader } from '../../lambdas/adapters/dynamo/outbound-stores.js';
import { DynamoPacer, DynamoParkedStore, DynamoReleaseStore } from '../../lambdas/adapters/dynamo/release-stores.js';
import { keys } from '../../lambdas/adapters/dynamo/table.js';
import { SqsOutboundQueues } from '../../lambdas/adapters/sqs.js';
import { SqsReleaseQueue } from '../../lambdas/adapters/sqs-release.js';
import type { CloudApi } from '../../lambdas/core/outbound/ports.js';
import type { ParkedCopy, ReleaseRequest } from '../../lambdas/core/release/ports.js';
import type { DeadLetterBody } from '../../lambdas/core/outbound/outbound-service.js';
import { CallWindow, maxPerWindow, paceIntervalMs } from '../../lambdas/core/release/pacing.js';
import { parseReleaseRequest, ReleaseService, type ReleaseServiceOptions } from '../../lambdas/core/release/release.js';
import { accepted, CloudApiStandIn, metaError } from '../../local/cloud-api-stand-in.js';
import { drain, localResources } from '../support/aws.js';
import { parkedCopy, setStatus } from '../support/release.js';
import { RecordingTelemetry } from '../support/telemetry.js';
import type { RelayEvent } from '../../lambdas/core/outcomes/relay-events.js';

let env: Awaited<ReturnType<typeof localResources>>;
let api: CloudApiStandIn;
let telemetry: RecordingTelemetry;
let parked: DynamoParkedStore;
let control: DynamoReleaseStore;
let requests: SqsReleaseQueue;

let seq = Math.floor(Math.random() * 1e6);
const uid = (prefix: string) => `${prefix}-${++seq}`;

const service = (overrides: Partial<ReleaseServiceOptions> = {}) =>
  new ReleaseService({
    parked,
    control,
    statuses: new DynamoStatusReader(env.doc, env.tableName),
    requests,
    pacer: new DynamoPacer(env.doc, env.tableName, paceIntervalMs(50)),
    callWindow: new CallWindow(50),
    ledger: new DynamoSendLedger(env.doc, env.tableName, 5_000, 1),
    tokens: new SecretTokenProvider(async () => 'release-token'),
    cloudApi: new HttpCloudApi(api.url, 'v25.0', 2_000),
    queues: new SqsOutboundQueues(env.sqs, env.queues.delay as string, env.queues.dlq as string),
    telemetry,
    maxSendAttempts: 3,
    maxParkSeconds: 3600,
    reconnectSkewMs: 300_000,
    statusCheckMs: 0,
    random: () => 0.5,
    ...overrides,
  });

const request = (wabaId: string): ReleaseRequest => ({ wabaId, trigger: 'status-connected', requestedAt: new Date().toISOString() });

/** A client that was offboarded and is back, with `n` parked messages over `recipients`, enqueued in order. */
const parkedClient = async (n: number, recipients: readonly string[], options: { phone?: string; offboardedOnly?: boolean } = {}) => {
  const wabaId = uid('waba');
  await setStatus(env.store, wabaId, 'OFFBOARDED', 1_000);
  if (!options.offboardedOnly) await setStatus(env.store, wabaId, 'RECONNECTED', 2_000);
  const base = Date.now() - 60_000;
  const copies = Array.from({ length: n }, (_, i) =>
    parkedCopy({ wabaId, to: recipients[i % recipients.length] as string, enqueuedMs: base + i, text: `#${i}`, ...(options.phone ? { phoneNumberId: options.phone } : {}) }),
  );
  // Written in a shuffled order: the release order comes from the first-enqueued time, not from the write order.
  expect((await parked.put([...copies].reverse())).size).toBe(0);
  return { wabaId, copies };
};

const callsFor = (copies: readonly ParkedCopy[]) => {
  const ids = new Set(copies.map((c) => `#${copies.indexOf(c)}`));
  const phone = copies[0]?.phoneNumberId;
  return api.requests.filter((r) => r.phoneNumberId === phone && ids.has(String((r.body.text as { body?: string })?.body)));
};
const textOf = (r: { body: Record<string, unknown> }) => String((r.body.text as { body?: string }).body);
/** What each recipient received, in arrival order. */
const perRecipient = (calls: readonly { body: Record<string, unknown> }[]) => {
  const by: Record<string, string[]> = {};
  for (const c of calls) by[String(c.body.to)] = [...(by[String(c.body.to)] ?? []), textOf(c)];
  return by;
};
/** What each recipient should receive: its copies in first-enqueued order. */
const expectedPerRecipient = (copies: readonly ParkedCopy[]) => {
  const by: Record<string, string[]> = {};
  copies.forEach((c, i) => {
    by[c.recipient] = [...(by[c.recipient] ?? []), `#${i}`];
  });
  return by;
};

beforeAll(async () => {
  env = await localResources(['delay', 'dlq', 'release']);
  api = await new CloudApiStandIn().start();
  telemetry = new RecordingTelemetry();
  parked = new DynamoParkedStore(env.doc, env.tableName, 86_400 * 2);
  control = new DynamoReleaseStore(env.doc, env.tableName);
  requests = new SqsReleaseQueue(env.sqs, env.queues.release as string);
});

afterAll(async () => {
  await api.stop();
});

describe('release of parked messages against DynamoDB Local, fauxqs and the Cloud API stand-in', () => {
  it('sends every parked message in first-enqueued order, removes the copies and records the release', async () => {
    const { wabaId, copies } = await parkedClient(12, ['15550000001', '15550000002', '15550000003']);
    const out = await service().run(request(wabaId));
    expect(out.outcome).toBe('done');
    const calls = callsFor(copies);
    expect(perRecipient(calls)).toEqual(expectedPerRecipient(copies));
    expect(calls.every((c) => c.authorization === 'Bearer release-token')).toBe(true);
    expect(await parked.summary(wabaId)).toEqual({ count: 0, oldestParkedAt: null });
    const gate = await control.read(wabaId);
    expect(gate.drainSince).toBeNull();
    expect(gate.lastRelease).toMatchObject({ state: 'done', trigger: 'status-connected', total: 12, sent: 12, left: 0, deadLettered: 0 });
    expect(gate.lastRelease?.finishedAt).toEqual(expect.any(String));
  });

  it('sends nothing for a client that is not connected', async () => {
    const { wabaId, copies } = await parkedClient(3, ['15550000011'], { offboardedOnly: true });
    expect((await service().run(request(wabaId))).outcome).toBe('not-connected');
    expect(callsFor(copies)).toHaveLength(0);
    expect((await parked.summary(wabaId)).count).toBe(3);
  });

  it('resumes after a release that died midway: the rest goes out, nothing twice', async () => {
    const { wabaId, copies } = await parkedClient(8, ['15550000021', '15550000022']);
    let calls = 0;
    const real = new HttpCloudApi(api.url, 'v25.0', 2_000);
    const dying: CloudApi = {
      send: async (...args) => {
        if (++calls === 4) throw new Error('instance lost');
        return real.send(...args);
      },
    };
    const shortLease = { ledger: new DynamoSendLedger(env.doc, env.tableName, 300, 1), laneConcurrency: 1 };
    await expect(service({ ...shortLease, cloudApi: dying }).run(request(wabaId))).rejects.toThrow('instance lost');
    expect(callsFor(copies)).toHaveLength(3);
    // The request comes back from the queue after its visibility timeout, longer than the send claim's lease: a new
    // run finishes the job. The message whose send died counts as a possible resend.
    await new Promise((r) => setTimeout(r, 400));
    const resends = telemetry.get('AmbiguousResends');
    const out = await service(shortLease).run(request(wabaId));
    expect(telemetry.get('AmbiguousResends')).toBe(resends + 1);
    expect(out.outcome).toBe('done');
    expect(perRecipient(callsFor(copies))).toEqual(expectedPerRecipient(copies));
    expect((await parked.summary(wabaId)).count).toBe(0);
  });

  it('skips a message already sent (its delayed copy got there first) without sending it again', async () => {
    const { wabaId, copies } = await parkedClient(3, ['15550000031']);
    const ledger = new DynamoSendLedger(env.doc, env.tableName, 5_000, 1);
    const first = copies[0] as ParkedCopy;
    const key = { wabaId, messageId: first.messageId };
    const claim = await ledger.claim(key, Date.now());
    if (claim.outcome !== 'claimed') throw new Error('expected a claim');
    await ledger.markSent(key, claim.token, 'wamid.earlier', Date.now());
    const out = await service().run(request(wabaId));
    expect(out.progress).toMatchObject({ sent: 2, alreadySent: 1, left: 0 });
    expect(callsFor(copies).map(textOf)).toEqual(['#1', '#2']);
  });

  it('stops at once when the client is offboarded again mid-release; the rest stays parked', async () => {
    const { wabaId, copies } = await parkedClient(10, ['15550000041', '15550000042']);
    const real = new HttpCloudApi(api.url, 'v25.0', 2_000);
    let calls = 0;
    let offboardedAt = 0;
    const offboarding: CloudApi = {
      send: async (...args) => {
        const r = await real.send(...args);
        if (++calls === 3) {
          await setStatus(env.store, wabaId, 'OFFBOARDED', 900_000);
          offboardedAt = Date.now();
        }
        return r;
      },
    };
    const out = await service({ cloudApi: offboarding, laneConcurrency: 1 }).run(request(wabaId));
    expect(out.outcome).toBe('stopped');
    const sent = callsFor(copies);
    expect(sent).toHaveLength(3);
    expect(sent.every((c) => c.at <= offboardedAt)).toBe(true);
    expect((await parked.summary(wabaId)).count).toBe(7);
    const gate = await control.read(wabaId);
    expect(gate.lastRelease).toMatchObject({ state: 'stopped', reason: 'client-offboarded', sent: 3, left: 7 });
    expect(gate.drainSince).toBeNull();
  });

  it('paces two concurrent releases on one phone number: never above the rate in any one-second window', async () => {
    const phone = uid('pn-shared');
    const a = await parkedClient(20, ['15550000051', '15550000052'], { phone });
    const b = await parkedClient(20, ['15550000053'], { phone });
    const rate = 10;
    const interval = paceIntervalMs(rate);
    const slots: number[] = [];
    const starts: number[] = [];
    const real = new HttpCloudApi(api.url, 'v25.0', 2_000);
    const recording: CloudApi = {
      send: (...args) => {
        starts.push(Date.now());
        return real.send(...args);
      },
    };
    const window = new CallWindow(rate); // one process: both releases share its call log
    // Two instances: each has its own pacer object; they share only the table.
    const instance = () => {
      const pacer = new DynamoPacer(env.doc, env.tableName, interval);
      return service({
        pacer: { reserve: async (p, now) => { const slot = await pacer.reserve(p, now); slots.push(slot); return slot; } },
        callWindow: window,
        cloudApi: recording,
        statusCheckMs: 250,
      });
    };
    const [ra, rb] = await Promise.all([instance().run(request(a.wabaId)), instance().run(request(b.wabaId))]);
    expect([ra.outcome, rb.outcome]).toEqual(['done', 'done']);
    expect(api.requests.filter((r) => r.phoneNumberId === phone)).toHaveLength(40);
    // Across instances: the slots handed out through DynamoDB are never closer than the interval.
    const sorted = [...slots].sort((x, y) => x - y);
    expect(sorted.slice(1).every((s, i) => s - (sorted[i] as number) >= interval)).toBe(true);
    expect(maxPerWindow(sorted)).toBeLessThanOrEqual(rate);
    // In the process: calls never start more than `rate` in any one-second window, however late a slot's call is.
    expect(maxPerWindow(starts)).toBeLessThanOrEqual(rate);
  });

  it('backs off on 130429 and retries the same message; holds a recipient on 131056; neither counts as an attempt', async () => {
    const { wabaId, copies } = await parkedClient(6, ['15550000061', '15550000062']);
    const throttledOnce = new Set<string>();
    let pairLimited = 0;
    api.respond = (req) => {
      const text = textOf(req);
      if (req.phoneNumberId !== copies[0]?.phoneNumberId) return accepted(String(req.body.to));
      if (text === '#0' && !throttledOnce.has(text)) {
        throttledOnce.add(text);
        return metaError(400, 130429, 'Rate limit hit');
      }
      if (text === '#1' && pairLimited++ === 0) return metaError(400, 131056, 'Pair rate limit hit');
      return accepted(String(req.body.to));
    };
    try {
      const out = await service({ maxSendAttempts: 1 }).run(request(wabaId));
      // 0, 2, 4 go to ...061 (0 after one backoff); 1 hit the pair rate: 1, 3, 5 to ...062 wait.
      expect(out.outcome).toBe('continued');
      expect(out.progress).toMatchObject({ state: 'paused', sent: 3, left: 3, reason: 'recipients-waiting' });
      expect(perRecipient(callsFor(copies))).toEqual({ '15550000061': ['#0', '#0', '#2', '#4'], '15550000062': ['#1'] });
      expect((await control.read(wabaId)).drainSince).not.toBeNull();
      const hit = await env.doc.send(new GetCommand({ TableName: env.tableName, Key: keys.parkedCopy(wabaId, (copies[1] as ParkedCopy).orderKey) }));
      expect(hit.Item).toMatchObject({ rateLimitHits: 1, sendAttempts: 0 });
      // The continuation is on the release queue, delayed (not visible yet).
      const visible = await drain(env.sqs, env.queues.release as string, 3);
      expect(visible.filter((m) => m.Body?.includes(wabaId))).toHaveLength(0);
      const again = await service({ maxSendAttempts: 1 }).run({ ...request(wabaId), continuationOf: out.progress?.releaseId as string });
      expect(again.outcome).toBe('done');
      expect(again.progress).toMatchObject({ sent: 6, total: 6, left: 0 });
      const order = callsFor(copies).map(textOf).filter((t) => ['#1', '#3', '#5'].includes(t));
      expect(order).toEqual(['#1', '#1', '#3', '#5']);
      expect(telemetry.get('ReleaseThrottled')).toBeGreaterThanOrEqual(1);
      expect(telemetry.get('ReleasePairRateLimited')).toBeGreaterThanOrEqual(1);
    } finally {
      api.respond = (req) => accepted(String(req.body.to));
    }
  });

  it('dead-letters a parked copy that cannot be read as invalid-envelope, with its raw body', async () => {
    const { wabaId, copies } = await parkedClient(2, ['15550000071']);
    const broken = { ...parkedCopy({ wabaId, to: '15550000071', enqueuedMs: Date.now() - 120_000 }), body: '{"messageId": "half' };
    await parked.put([broken]);
    // An item with no envelope at all.
    await env.doc.send(new PutCommand({ TableName: env.tableName, Item: { ...keys.parkedCopy(wabaId, '000000000000001#garbage'), what: 'not a copy' } }));
    const out = await service().run(request(wabaId));
    expect(out.outcome).toBe('done');
    expect(out.progress).toMatchObject({ sent: 2, deadLettered: 2 });
    const dead = (await drain(env.sqs, env.queues.dlq as string)).map((m) => JSON.parse(m.Body ?? '{}') as DeadLetterBody);
    const mine = dead.filter((d) => d.envelope === '{"messageId": "half' || String(d.envelope).includes('not a copy'));
    expect(mine.map((d) => d.reason)).toEqual(['invalid-envelope', 'invalid-envelope']);
    expect(callsFor(copies)).toHaveLength(2);
    const gone = await env.doc.send(new GetCommand({ TableName: env.tableName, Key: keys.parkedCopy(wabaId, broken.orderKey) }));
    expect(gone.Item).toBeUndefined();
  });

  it('dead-letters a parked message whose client has no Cloud API token as no-access-token, like the consumer', async () => {
    const { wabaId, copies } = await parkedClient(2, ['15550000091']);
    const noToken = new SecretTokenProvider(async () => JSON.stringify({ byWaba: { 'some-other-waba': 'x' } }));
    const out = await service({ tokens: noToken }).run(request(wabaId));
    expect(out.outcome).toBe('done');
    expect(out.progress).toMatchObject({ sent: 0, deadLettered: 2, left: 0 });
    expect(callsFor(copies)).toHaveLength(0);
    const dead = (await drain(env.sqs, env.queues.dlq as string)).map((m) => ({ body: JSON.parse(m.Body ?? '{}') as DeadLetterBody, reason: m.MessageAttributes?.reason?.StringValue }));
    const mine = dead.filter((d) => typeof d.body.envelope === 'object' && d.body.envelope.wabaId === wabaId);
    expect(mine.map((d) => [d.body.reason, d.reason])).toEqual([
      ['no-access-token', 'no-access-token'],
      ['no-access-token', 'no-access-token'],
    ]);
    expect((await parked.summary(wabaId)).count).toBe(0);
  });

  it('publishes message.sent and message.released for every parked message it sends, one id per fact', async () => {
    const { wabaId, copies } = await parkedClient(3, ['15550000101', '15550000102']);
    const published: RelayEvent[] = [];
    const events = { publish: async (batch: readonly RelayEvent[]) => void published.push(...batch) };
    const out = await service({ events }).run(request(wabaId));
    expect(out.progress).toMatchObject({ sent: 3, left: 0 });
    const mine = published.filter((e) => e.wabaId === wabaId);
    const released = mine.filter((e) => e.type === 'message.released');
    expect(released.map((e) => e.messageId).sort()).toEqual(copies.map((c) => c.messageId).sort());
    for (const e of released) {
      expect(e.wamid).toMatch(/^wamid\./);
      expect(e.detail).toMatchObject({ releaseId: out.progress?.releaseId, firstParkedAt: expect.any(String) });
    }
    expect(mine.filter((e) => e.type === 'message.sent').map((e) => e.messageId).sort()).toEqual(copies.map((c) => c.messageId).sort());
    // The same fact gets the same id (subscribers dedupe on it); different facts never share one.
    expect(new Set(mine.map((e) => e.id)).size).toBe(mine.length);
  });

  it('queues a busy request again while another release holds the client', async () => {
    const { wabaId } = await parkedClient(1, ['15550000081']);
    const begun = await control.begin(wabaId, 'other-release', Date.now(), 60_000, {
      releaseId: 'other-release', trigger: 'operator', state: 'running', startedAt: new Date().toISOString(), updatedAt: new Date().toISOString(),
      total: 1, sent: 0, deadLettered: 0, alreadySent: 0, left: 1,
    });
    expect(begun.ok).toBe(true);
    const out = await service().run(request(wabaId));
    expect(out.outcome).toBe('busy');
    expect((await parked.summary(wabaId)).count).toBe(1);
  });

  it('reads release requests strictly', () => {
    expect(parseReleaseRequest('{"wabaId":"w1","trigger":"status-connected","requestedAt":"2026-11-25T00:00:00Z"}').ok).toBe(true);
    expect(parseReleaseRequest('{"wabaId":"w1","trigger":"whenever","requestedAt":"2026-11-25T00:00:00Z"}')).toMatchObject({ ok: false });
    expect(parseReleaseRequest('nope')).toEqual({ ok: false, problem: 'body is not JSON' });
  });
});
