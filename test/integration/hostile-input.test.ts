import { RecordingReleases } from '../support/release.js';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoClientStore } from '../../lambdas/adapters/dynamo/client-store.js';
import { DynamoPhoneOwnership } from '../../lambdas/adapters/dynamo/phone-ownership.js';
import { SqsInboundEventSink } from '../../lambdas/adapters/sqs.js';
import type { ClientView } from '../../lambdas/core/status/client-view.js';
import type { ClientStore } from '../../lambdas/core/status/ports.js';
import { signBody } from '../../lambdas/core/webhook/signature.js';
import { isSqsSafe } from '../../lambdas/core/shared/sqs-body.js';
import { createStatusHandler } from '../../lambdas/status/handler.js';
import { createWebhookHandler } from '../../lambdas/webhook/handler.js';
import { httpEvent, localResources, takeAll } from '../support/aws.js';
import { RecordingTelemetry } from '../support/telemetry.js';
import { accountUpdate, messagesChange, offboarded } from '../support/webhooks.js';

const SECRET = 'hostile-secret';
let env: Awaited<ReturnType<typeof localResources>>;
let telemetry: RecordingTelemetry;
let phones: DynamoPhoneOwnership;

const NOW_S = () => Math.floor(Date.now() / 1000);
const uniqueWaba = (() => {
  let n = Math.floor(Math.random() * 1e9);
  return () => `h${++n}`;
})();

const handlerWith = (store: ClientStore = env.store) =>
  createWebhookHandler({
    store,
    inbound: new SqsInboundEventSink(env.sqs, env.queues.inbound as string),
    releases: new RecordingReleases(),
    phones,
    telemetry,
    secrets: async () => ({ appSecrets: [SECRET], verifyToken: 'v' }),
    reconnectSkewMs: 300_000,
    timelineRetentionDays: 30,
  });

const post = async (payload: unknown, handler = handlerWith()) => {
  const body = Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
  return handler(httpEvent({ method: 'POST', path: '/webhook', body, headers: { 'x-hub-signature-256': signBody(body, SECRET) } }));
};

let status: ReturnType<typeof createStatusHandler>;
const view = async (wabaId: string) => {
  const r = await status(httpEvent({ method: 'GET', path: `/clients/${wabaId}`, pathParameters: { wabaId } }));
  return { statusCode: r.statusCode, body: JSON.parse(r.body ?? '{}') as ClientView };
};
const reset = async (wabaId: string, body?: string, userArn = 'arn:aws:iam::123456789012:user/ops') => {
  const e = httpEvent({ method: 'POST', path: `/clients/${wabaId}/reset`, routeKey: 'POST /clients/{wabaId}/reset', pathParameters: { wabaId }, ...(body !== undefined ? { body } : {}) });
  const authorized = { ...e, requestContext: { ...e.requestContext, authorizer: { iam: { userArn } } } };
  const r = await status(authorized as typeof e);
  return { statusCode: r.statusCode, body: JSON.parse(r.body ?? '{}') as ClientView };
};

/** The inbound-events messages of this test, parsed, with their attributes. */
const forwarded = async () =>
  (await takeAll(env.sqs, env.queues.inbound as string)).map((m) => {
    expect(isSqsSafe(m.Body ?? '')).toBe(true);
    return { body: JSON.parse(m.Body ?? '{}'), field: m.MessageAttributes?.field?.StringValue, raw: m.Body ?? '' };
  });

beforeAll(async () => {
  env = await localResources(['inbound']);
  telemetry = new RecordingTelemetry();
  phones = new DynamoPhoneOwnership(env.doc, env.tableName);
  status = createStatusHandler({ store: env.store, telemetry, reconnectSkewMs: 300_000, timelineRetentionDays: 30 });
});

describe('event times that may not decide status', () => {
  it.each([
    ['the year 2100', 4102444800, 'event-time-in-future'],
    ['a time in microseconds', Date.now() * 1000, 'event-time-in-future'],
    ['1e16', 1e16, 'event-time-invalid'],
    ['1e200', 1e200, 'event-time-invalid'],
  ])('%s: recorded in the timeline, forwarded as unreadable, status untouched, 200', async (_, time, problem) => {
    await takeAll(env.sqs, env.queues.inbound as string);
    const waba = uniqueWaba();
    expect((await post(offboarded(waba, NOW_S() - 60))).statusCode).toBe(200);
    expect((await post(accountUpdate(waba, 'ACCOUNT_DELETED', time))).statusCode).toBe(200);
    const v = await view(waba);
    expect(v.body.status).toBe('OFFBOARDED');
    const rejected = v.body.timeline.find((e) => e.effect === 'rejected-time');
    expect(rejected).toMatchObject({ event: 'ACCOUNT_DELETED', statusBefore: 'OFFBOARDED', statusAfter: 'OFFBOARDED', detail: { problem } });
    const queued = (await forwarded()).filter((m) => m.body.wabaId === waba);
    expect(queued).toEqual([
      expect.objectContaining({ field: 'unreadable', body: expect.objectContaining({ field: 'unreadable', problem: expect.stringMatching(new RegExp(`^${problem}: `)) }) }),
    ]);
    // A later, ordinary event still applies.
    expect((await post(accountUpdate(waba, 'ACCOUNT_RECONNECTED', NOW_S()))).statusCode).toBe(200);
    expect((await view(waba)).body.status).toBe('CONNECTED');
  });

  it('a rejected event delivered twice is recorded once', async () => {
    const waba = uniqueWaba();
    await post(offboarded(waba, 4102444800));
    await post(offboarded(waba, 4102444800));
    expect((await view(waba)).body.timeline).toHaveLength(1);
  });
});

describe('per-change isolation: one change that cannot be stored never blocks its siblings', () => {
  it('stores the good changes and forwards the hostile ones of one POST, answering 200', async () => {
    await takeAll(env.sqs, env.queues.inbound as string);
    const waba = uniqueWaba();
    const now = NOW_S();
    const deepText = `${'{"a":'.repeat(8000)}"${waba}"${'}'.repeat(8000)}`;
    const customer = messagesChange(waba, now, `hi \uffff \u0000 \ud800 😀 ${waba}`);
    const payload = {
      object: 'whatsapp_business_account',
      entry: [
        { id: waba, time: 1e16, changes: [{ field: 'account_update', value: { event: 'ACCOUNT_DELETED' } }] },
        { id: 'x'.repeat(3000), time: now, changes: [{ field: 'account_update', value: { event: 'ACCOUNT_DELETED', marker: waba } }] },
        {
          id: waba,
          time: now,
          changes: [
            { field: 'account_update', value: { event: 'ACCOUNT_OFFBOARDED' } },
            { field: 'account_update', value: { event: 'ACCOUNT_RESTRICTION', blob: 'z'.repeat(450_000) } },
            { field: 'account_update', value: { event: 'PARTNER_REMOVED', disconnection_info: { reason: 'r'.repeat(450_000) }, waba_info: { waba_id: `${waba}r` } } },
            { field: 'messages', value: { waba, deep: 'DEEP' } },
            customer,
            { field: 'reactions', value: { emoji: '👍', waba } },
          ],
        },
      ],
    };
    // JSON.stringify cannot write the deep value either: it goes in as text.
    const r = await post(JSON.stringify(payload).replace('"DEEP"', deepText));
    expect(r.statusCode).toBe(200);
    const v = await view(waba);
    expect(v.body.status).toBe('OFFBOARDED');
    expect(v.body.timeline.map((e) => e.effect).sort()).toEqual(['informational', 'rejected-time', 'status-changed']);
    const removed = await view(`${waba}r`);
    expect(removed.body.status).toBe('REMOVED');
    expect(removed.body.disconnection?.reason).toHaveLength(128);

    const queued = await forwarded();
    const text = (m: { raw: string }) => m.raw;
    // The entry with a 3000-character id: unreadable, with its change.
    expect(queued.filter((m) => text(m).includes(`"marker":"${waba}"`))).toEqual([
      expect.objectContaining({ field: 'unreadable', body: expect.objectContaining({ wabaId: null, problem: expect.stringMatching(/^invalid-id/) }) }),
    ]);
    // The value nested 8000 levels: forwarded truncated and marked, with its length and SHA-256.
    const deepOne = queued.find((m) => m.body.truncated && text(m).includes('too-deep'));
    expect(deepOne?.body).toMatchObject({ field: 'unreadable', wabaId: waba, truncated: { originalBytes: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(deepOne?.body.truncated.text.length).toBe(16 * 1024);
    // The customer message and the reaction: forwarded as they are, every character back after JSON.parse.
    const message = queued.find((m) => m.body.field === 'messages' && m.body.value?.messages);
    expect(message?.body.value.messages[0].text.body).toBe(`hi \uffff \u0000 \ud800 😀 ${waba}`);
    expect(queued.find((m) => m.body.field === 'reactions')?.body.value.emoji).toBe('👍');
    expect(queued.find((m) => m.body.problem?.startsWith('event-time-invalid'))?.body.wabaId).toBe(waba);
  });

  it('forwards a change the store refuses for good (a real ValidationException) and stores the rest', async () => {
    await takeAll(env.sqs, env.queues.inbound as string);
    const good = uniqueWaba();
    const bad = uniqueWaba();
    // Fault injection: the key of one client is made too long for DynamoDB, so DynamoDB Local itself refuses it.
    const real = new DynamoClientStore(env.doc, env.tableName);
    const faulty: ClientStore = Object.assign(Object.create(real) as ClientStore, {
      applyStatusEvent: (wabaId: string, ...rest: Parameters<ClientStore['applyStatusEvent']> extends [string, ...infer R] ? R : never) =>
        real.applyStatusEvent(wabaId === bad ? 'k'.repeat(3000) : wabaId, ...rest),
    });
    const now = NOW_S();
    const payload = {
      object: 'whatsapp_business_account',
      entry: [
        { id: bad, time: now, changes: [{ field: 'account_update', value: { event: 'ACCOUNT_OFFBOARDED' } }] },
        { id: good, time: now, changes: [{ field: 'account_update', value: { event: 'ACCOUNT_OFFBOARDED' } }, messagesChange(good, now)] },
      ],
    };
    const r = await post(payload, handlerWith(faulty));
    expect(r.statusCode).toBe(200);
    expect((await view(good)).body.status).toBe('OFFBOARDED');
    const queued = await forwarded();
    expect(queued.filter((m) => m.body.wabaId === bad)).toEqual([
      expect.objectContaining({
        field: 'unreadable',
        body: expect.objectContaining({ problem: expect.stringMatching(/^unstorable: ValidationException/), raw: { field: 'account_update', value: { event: 'ACCOUNT_OFFBOARDED' } } }),
      }),
    ]);
    expect(queued.filter((m) => m.body.wabaId === good).map((m) => m.field)).toEqual(['messages']);
    expect(telemetry.get('WebhookUnstorableChanges')).toBeGreaterThanOrEqual(1);
  });

  it('forwards a change too large for one SQS message truncated and marked, as unreadable', async () => {
    await takeAll(env.sqs, env.queues.inbound as string);
    const waba = uniqueWaba();
    const big = { field: 'messages', value: { waba, blob: 'é'.repeat(1_000_000) } };
    expect((await post({ object: 'whatsapp_business_account', entry: [{ id: waba, changes: [big, messagesChange(waba, NOW_S())] }] })).statusCode).toBe(200);
    const queued = (await forwarded()).filter((m) => m.body.wabaId === waba);
    expect(queued.map((m) => m.field).sort()).toEqual(['messages', 'unreadable']);
    const truncated = queued.find((m) => m.field === 'unreadable');
    expect(truncated?.body).toMatchObject({ problem: expect.stringMatching(/^too-large: a "messages" change of 2000\d{3} bytes/), truncated: { originalBytes: expect.any(Number) } });
    expect(truncated?.body.truncated.text.startsWith(`{"waba":"${waba}"`)).toBe(true);
    expect(truncated?.raw.length).toBeLessThan(200_000);
  });

  it('still answers 500 when a retry can fix it (DynamoDB unreachable)', async () => {
    const broken = handlerWith(new DynamoClientStore(env.doc, 'no-such-table'));
    expect((await post(offboarded(uniqueWaba(), NOW_S()), broken)).statusCode).toBe(500);
  });
});

describe('the status route never fails on stored data', () => {
  it('shows records with odd times and shapes, written as an older version or a person might have', async () => {
    const waba = uniqueWaba();
    // Low-level writes: numbers the document client would refuse to write (1e100) are still possible by hand.
    const rec = (event: string, ms: string) => ({ M: { orderKey: { S: `${ms}#x` }, event: { S: event }, eventId: { S: 'x' }, eventTimeMs: { N: ms }, appliedAt: { S: '2026-01-01T00:00:00.000Z' } } });
    await env.dynamo.send(
      new PutItemCommand({
        TableName: env.tableName,
        Item: {
          pk: { S: `CLIENT#${waba}` },
          sk: { S: 'STATUS' },
          wabaId: { S: waba },
          firstSeenAt: { S: '2026-01-01T00:00:00.000Z' },
          cls_OFFBOARDED: rec('ACCOUNT_OFFBOARDED', '1e100'),
          // A safe integer of ms that Date cannot show (what a microsecond time stored by an older version could be).
          cls_DELETED: rec('ACCOUNT_DELETED', '8700000000000000'),
          cls_REMOVED: { S: 'garbage' },
          cls_DISABLED: { M: { eventTimeMs: { S: 'soon' } } },
          parkedTotal: { S: 'many' },
        },
      }),
    );
    await env.dynamo.send(
      new PutItemCommand({ TableName: env.tableName, Item: { pk: { S: `CLIENT#${waba}` }, sk: { S: 'EVENT#99999999999999999#z' }, eventTimeMs: { N: '1e120' }, effect: { N: '42' } } }),
    );
    const v = await view(waba);
    expect(v.statusCode).toBe(200);
    expect(v.body).toMatchObject({ status: 'OFFBOARDED', setBy: { event: 'ACCOUNT_OFFBOARDED', eventTime: null }, messages: { parked: 0 } });
    expect(v.body.latestByClass.DELETED).toEqual({ event: 'ACCOUNT_DELETED', eventTime: null });
    expect(v.body.latestByClass.DISABLED).toEqual({ event: 'UNKNOWN', eventTime: '1970-01-01T00:00:00.000Z' });
    expect(v.body.latestByClass.OFFBOARDED).toEqual({ event: 'ACCOUNT_OFFBOARDED', eventTime: null });
    expect(v.body.timeline[0]).toMatchObject({ event: 'UNKNOWN', eventTime: null, effect: 'unknown' });
  });
});

describe('operator reset (POST /clients/{wabaId}/reset)', () => {
  it('undoes a far-future record stored before event times were checked; later events apply normally', async () => {
    const waba = uniqueWaba();
    expect((await post(offboarded(waba, NOW_S() - 600))).statusCode).toBe(200);
    // What an older version stored for a DELETED event stamped in the year 2100: it wins over anything Meta sends.
    const stuck = { orderKey: `${'4102444800000'.padStart(16, '0')}#old`, event: 'ACCOUNT_DELETED', eventId: 'old', eventTimeMs: 4102444800000, appliedAt: '2026-01-01T00:00:00.000Z' };
    const key = { pk: `CLIENT#${waba}`, sk: 'STATUS' };
    const item = (await env.doc.send(new GetCommand({ TableName: env.tableName, Key: key }))).Item ?? {};
    await env.doc.send(new PutCommand({ TableName: env.tableName, Item: { ...item, cls_DELETED: stuck } }));
    await post(accountUpdate(waba, 'PARTNER_ADDED', NOW_S() - 30));
    expect((await view(waba)).body.status).toBe('DELETED');

    const r = await reset(waba, JSON.stringify({ reason: 'far-future ACCOUNT_DELETED from before the fix' }));
    expect(r.statusCode).toBe(200);
    expect(r.body).toMatchObject({ status: 'CONNECTED', setBy: null, latestByClass: {} });
    expect(r.body.timeline[0]).toMatchObject({
      event: 'OPERATOR_RESET',
      effect: 'operator-reset',
      statusBefore: 'DELETED',
      statusAfter: 'CONNECTED',
      detail: {
        by: 'arn:aws:iam::123456789012:user/ops',
        reason: 'far-future ACCOUNT_DELETED from before the fix',
        cleared: { DELETED: { event: 'ACCOUNT_DELETED', eventTime: '2100-01-01T00:00:00.000Z' }, OFFBOARDED: { event: 'ACCOUNT_OFFBOARDED' }, CONNECTED: { event: 'PARTNER_ADDED' } },
      },
    });
    // The offboarded listing goes with the records.
    const after = (await env.doc.send(new GetCommand({ TableName: env.tableName, Key: key }))).Item ?? {};
    expect(after.offboardedIdx).toBeUndefined();
    expect(after.cls_DELETED).toBeUndefined();

    expect((await post(offboarded(waba, NOW_S()))).statusCode).toBe(200);
    expect((await view(waba)).body.status).toBe('OFFBOARDED');
  });

  it('answers 404 for a client never seen, 400 for a bad id or body, and changes nothing then', async () => {
    expect((await reset(uniqueWaba())).statusCode).toBe(404);
    expect((await reset('a b')).statusCode).toBe(400);
    const waba = uniqueWaba();
    await post(offboarded(waba, NOW_S()));
    expect((await reset(waba, 'not json')).statusCode).toBe(400);
    expect((await reset(waba, JSON.stringify({ reason: 'x', extra: 1 }))).statusCode).toBe(400);
    expect((await reset(waba, JSON.stringify({ reason: 'r'.repeat(501) }))).statusCode).toBe(400);
    expect((await view(waba)).body.status).toBe('OFFBOARDED');
    // No body at all is fine: who is recorded, no reason.
    const r = await reset(waba);
    expect(r.body.timeline[0]?.detail).toEqual({ by: 'arn:aws:iam::123456789012:user/ops', cleared: { OFFBOARDED: expect.objectContaining({ event: 'ACCOUNT_OFFBOARDED' }) } });
  });
});

describe('phone number ownership, learned from messages webhooks', () => {
  it('keeps the latest sighting by time; redeliveries and stale webhooks change nothing', async () => {
    const phone = `p${uniqueWaba()}`;
    const a = uniqueWaba();
    const b = uniqueWaba();
    const now = NOW_S();
    const change = (waba: string, t: number) => {
      const c = messagesChange(waba, t);
      (c.value.metadata as { phone_number_id: string }).phone_number_id = phone;
      return { object: 'whatsapp_business_account', entry: [{ id: waba, time: t, changes: [c] }] };
    };
    expect((await post(change(a, now - 100))).statusCode).toBe(200);
    expect((await phones.ownerOf([phone])).get(phone)).toEqual({ wabaId: a, learnedFrom: 'webhook', learnedAt: (now - 100) * 1000 });
    await post(change(b, now - 50));
    expect((await phones.ownerOf([phone])).get(phone)?.wabaId).toBe(b);
    await post(change(a, now - 80)); // stale
    await post(change(b, now - 50)); // redelivery
    expect((await phones.ownerOf([phone, 'unknown-phone'])).get(phone)).toEqual({ wabaId: b, learnedFrom: 'webhook', learnedAt: (now - 50) * 1000 });
    expect((await phones.ownerOf(['unknown-phone'])).size).toBe(0);
    await takeAll(env.sqs, env.queues.inbound as string);
  });
});
