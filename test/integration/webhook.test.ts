import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoClientStore } from '../../lambdas/adapters/dynamo/client-store.js';
import { SqsInboundEventSink } from '../../lambdas/adapters/sqs.js';
import { SqsReleaseQueue } from '../../lambdas/adapters/sqs-release.js';
import type { ReleaseRequester } from '../../lambdas/core/release/ports.js';
import { RELEASE_ATTRS } from '../../lambdas/adapters/dynamo/status-item.js';
import { keys } from '../../lambdas/adapters/dynamo/table.js';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { ClientView } from '../../lambdas/core/status/client-view.js';
import { signBody } from '../../lambdas/core/webhook/signature.js';
import { createStatusHandler } from '../../lambdas/status/handler.js';
import { createWebhookHandler } from '../../lambdas/webhook/handler.js';
import { localSqs } from '../../local/services.js';
import { drain, httpEvent, localResources } from '../support/aws.js';
import { RecordingTelemetry } from '../support/telemetry.js';
import { accountUpdate, messagesChange, offboarded, partnerEvent, reconnected } from '../support/webhooks.js';

const SECRET = 'integration-secret';
/** Event times are Unix seconds after 2010 (earlier ones are refused): tests count from here. */
const T = 1_768_000_000;
const TOKEN = 'verify-me';

let env: Awaited<ReturnType<typeof localResources>>;
let telemetry: RecordingTelemetry;
let webhook: ReturnType<typeof createWebhookHandler>;
let status: ReturnType<typeof createStatusHandler>;

const deps = (
  store = env.store,
  inbound = new SqsInboundEventSink(env.sqs, env.queues.inbound as string),
  releases: ReleaseRequester = new SqsReleaseQueue(env.sqs, env.queues.release as string),
) => ({
  store,
  inbound,
  releases,
  telemetry,
  secrets: async () => ({ appSecrets: ['old-secret', SECRET], verifyToken: TOKEN }),
  reconnectSkewMs: 300_000,
  timelineRetentionDays: 30,
});

beforeAll(async () => {
  env = await localResources(['inbound', 'release']);
  telemetry = new RecordingTelemetry();
  webhook = createWebhookHandler(deps());
  status = createStatusHandler({ store: env.store, telemetry, reconnectSkewMs: 300_000 });
});

const post = (payload: unknown, init: { secret?: string; base64?: boolean; headerName?: string } = {}) => {
  const body = Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
  return webhook(
    httpEvent({
      method: 'POST',
      path: '/webhook',
      body,
      base64: init.base64 ?? false,
      headers: { [init.headerName ?? 'x-hub-signature-256']: signBody(body, init.secret ?? SECRET), 'content-type': 'application/json' },
    }),
  );
};

const view = async (wabaId: string): Promise<{ statusCode: number | undefined; body: ClientView }> => {
  const r = await status(httpEvent({ method: 'GET', path: `/clients/${wabaId}`, pathParameters: { wabaId } }));
  return { statusCode: r.statusCode, body: JSON.parse(r.body ?? '{}') };
};

const uniqueWaba = (() => {
  let n = Math.floor(Math.random() * 1e9);
  return () => String(++n);
})();

describe('GET /webhook (subscription handshake)', () => {
  const get = (query?: Record<string, string>) => webhook(httpEvent({ method: 'GET', path: '/webhook', ...(query ? { query } : {}) }));

  it('echoes the challenge as text/plain for the configured token', async () => {
    const r = await get({ 'hub.mode': 'subscribe', 'hub.verify_token': TOKEN, 'hub.challenge': '1158201444' });
    expect(r.statusCode).toBe(200);
    expect(r.body).toBe('1158201444');
    expect(r.headers?.['content-type']).toMatch(/^text\/plain/);
  });
  it('answers 403 for a wrong token or mode', async () => {
    expect((await get({ 'hub.mode': 'subscribe', 'hub.verify_token': 'nope', 'hub.challenge': '1' })).statusCode).toBe(403);
    expect((await get({ 'hub.mode': 'unsubscribe', 'hub.verify_token': TOKEN, 'hub.challenge': '1' })).statusCode).toBe(403);
  });
  it('answers 400 when parameters are missing', async () => {
    expect((await get()).statusCode).toBe(400);
    expect((await get({ 'hub.mode': 'subscribe', 'hub.verify_token': TOKEN })).statusCode).toBe(400);
  });
});

describe('POST /webhook', () => {
  it('offboards and reconnects a client, visible through GET /clients/{wabaId}', async () => {
    const waba = uniqueWaba();
    expect((await view(waba)).statusCode).toBe(404);

    expect((await post(offboarded(waba, 1768477204))).statusCode).toBe(200);
    let v = await view(waba);
    expect(v.statusCode).toBe(200);
    expect(v.body).toMatchObject({ wabaId: waba, status: 'OFFBOARDED', setBy: { event: 'ACCOUNT_OFFBOARDED', eventTime: '2026-01-15T11:40:04.000Z' } });
    expect(v.body.since).toEqual(expect.any(String));

    // Meta's own example: the reconnection carries a time one second before the offboarding.
    expect((await post(accountUpdate(waba, 'ACCOUNT_RECONNECTED', '1768477203', { phone_number: '15550783881' }))).statusCode).toBe(200);
    v = await view(waba);
    expect(v.body.status).toBe('CONNECTED');
    // The timeline is ordered by event time, newest first: here the offboarding carries the later time.
    expect(v.body.timeline.map((e) => [e.event, e.effect, e.statusAfter])).toEqual([
      ['ACCOUNT_OFFBOARDED', 'status-changed', 'OFFBOARDED'],
      ['ACCOUNT_RECONNECTED', 'status-changed', 'CONNECTED'],
    ]);
  });

  it('verifies the signature before parsing: missing, malformed or wrong gives 401 and writes nothing', async () => {
    const waba = uniqueWaba();
    const body = JSON.stringify(offboarded(waba, 1768477204));
    const cases: Record<string, string>[] = [
      {},
      { 'x-hub-signature-256': 'sha256=abc' },
      { 'x-hub-signature-256': signBody(body, 'wrong-secret') },
      { 'x-hub-signature-256': signBody(`${body} `, SECRET) },
    ];
    for (const headers of cases) {
      const r = await webhook(httpEvent({ method: 'POST', path: '/webhook', body, headers }));
      expect(r.statusCode).toBe(401);
    }
    // Even a body that is not JSON gets 401, not 400, when unsigned: nothing is parsed before the check.
    expect((await webhook(httpEvent({ method: 'POST', path: '/webhook', body: 'not json' }))).statusCode).toBe(401);
    expect((await view(waba)).statusCode).toBe(404);
    expect(telemetry.get('WebhookSignatureRejected')).toBeGreaterThanOrEqual(5);
  });

  it('accepts the header name in any case, a base64 body from API Gateway, and a rotated secret', async () => {
    const waba = uniqueWaba();
    expect((await post(offboarded(waba, T + 100), { headerName: 'X-Hub-Signature-256', base64: true, secret: 'old-secret' })).statusCode).toBe(200);
    expect((await view(waba)).body.status).toBe('OFFBOARDED');
  });

  it('answers 400 for a signed body that is not JSON, 413 above 3 MB, 200 for another object', async () => {
    expect((await post('{"object": "whatsapp_business_account", ')).statusCode).toBe(400);
    const big = Buffer.alloc(3 * 1024 * 1024 + 1, 0x20);
    expect((await webhook(httpEvent({ method: 'POST', path: '/webhook', body: big, headers: { 'x-hub-signature-256': signBody(big, SECRET) } }))).statusCode).toBe(413);
    const before = telemetry.get('WebhookIgnoredObject');
    expect((await post({ object: 'page', entry: [{ id: '1', time: 1, changes: [] }] })).statusCode).toBe(200);
    expect(telemetry.get('WebhookIgnoredObject')).toBe(before + 1);
  });

  it('stores every change of every entry and forwards other fields to the inbound-events queue', async () => {
    const a = uniqueWaba();
    const b = uniqueWaba();
    const partner = uniqueWaba();
    const payload = {
      object: 'whatsapp_business_account',
      entry: [
        { id: a, time: T + 1000, changes: [{ field: 'account_update', value: { event: 'ACCOUNT_OFFBOARDED' } }, messagesChange(a, T + 1000, 'one')] },
        { id: b, time: T + 1000, changes: [messagesChange(b, T + 1000, 'two'), { field: 'smb_message_echoes', value: { message_echoes: [] } }] },
        {
          id: partner,
          time: T + 1000,
          changes: [
            { field: 'account_update', value: { event: 'PARTNER_REMOVED', waba_info: { waba_id: b }, disconnection_info: { reason: 'CHANGE_NUMBER', initiated_by: 'USER' } } },
            { field: 'account_update', value: { event: 'ACCOUNT_VIOLATION', violation_info: { violation_type: 'SPAM' } } },
          ],
        },
      ],
    };
    expect((await post(payload)).statusCode).toBe(200);
    expect((await view(a)).body.status).toBe('OFFBOARDED');
    const vb = await view(b);
    expect(vb.body).toMatchObject({ status: 'REMOVED', disconnection: { reason: 'CHANGE_NUMBER', initiatedBy: 'USER' } });
    const vp = await view(partner);
    expect(vp.body.status).toBe('CONNECTED');
    expect(vp.body.timeline).toMatchObject([{ event: 'ACCOUNT_VIOLATION', effect: 'informational' }]);

    const queued = (await drain(env.sqs, env.queues.inbound as string)).map((m) => JSON.parse(m.Body ?? '{}'));
    const mine = queued.filter((m) => m.wabaId === a || m.wabaId === b);
    expect(mine.map((m) => [m.wabaId, m.field]).sort()).toEqual([
      [a, 'messages'],
      [b, 'messages'],
      [b, 'smb_message_echoes'],
    ].sort());
    expect(mine.find((m) => m.wabaId === a)?.value.messages[0].text.body).toBe('one');
    expect(mine.every((m) => typeof m.dedupeId === 'string' && m.dedupeId.length === 32)).toBe(true);
  });

  it('makes redeliveries harmless: the same POST twice leaves one timeline entry and the same status', async () => {
    const waba = uniqueWaba();
    const body = offboarded(waba, T + 5000);
    expect((await post(body)).statusCode).toBe(200);
    const first = await view(waba);
    expect((await post(body)).statusCode).toBe(200);
    const second = await view(waba);
    expect(second.body.status).toBe('OFFBOARDED');
    expect(second.body.since).toBe(first.body.since);
    expect(second.body.timeline).toHaveLength(1);
  });

  it('reaches the same status whatever order deliveries arrive in', async () => {
    const events = (waba: string) => [
      offboarded(waba, T + 1000),
      reconnected(waba, T + 1100),
      offboarded(waba, T + 5000),
      reconnected(waba, T + 4999),
      partnerEvent('p', waba, 'PARTNER_APP_INSTALLED', T + 900),
      accountUpdate(waba, 'ACCOUNT_RESTRICTION', T + 4000, { restriction_info: [] }),
    ];
    const orders = [[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0], [2, 0, 3, 1, 5, 4], [3, 2, 1, 0, 4, 5], [4, 3, 5, 0, 2, 1]];
    const results = new Set<string>();
    for (const order of orders) {
      const waba = uniqueWaba();
      const list = events(waba);
      for (const i of order) expect((await post(list[i])).statusCode).toBe(200);
      const v = await view(waba);
      results.add(`${v.body.status}:${v.body.setBy?.eventTime}:${v.body.timeline.length}`);
    }
    expect([...results]).toEqual([`CONNECTED:${new Date((T + 4999) * 1000).toISOString()}:6`]);
  });

  it('applies two contradictory events sent concurrently by different Lambdas to one outcome', async () => {
    for (let round = 0; round < 5; round++) {
      const waba = uniqueWaba();
      // Two independent handlers (two Lambda containers) racing on the same client.
      const other = createWebhookHandler(deps(new DynamoClientStore(env.doc, env.tableName)));
      const removed = Buffer.from(JSON.stringify(partnerEvent('p', waba, 'PARTNER_REMOVED', T + 2001)));
      const [r1, r2] = await Promise.all([
        post(reconnected(waba, T + 2000)),
        other(httpEvent({ method: 'POST', path: '/webhook', body: removed, headers: { 'x-hub-signature-256': signBody(removed, SECRET) } })),
      ]);
      expect([r1.statusCode, r2.statusCode]).toEqual([200, 200]);
      expect((await view(waba)).body.status).toBe('REMOVED');
    }
  });

  it('answers 500 when DynamoDB fails, and writes and queues nothing', async () => {
    const waba = uniqueWaba();
    const broken = createWebhookHandler(deps(new DynamoClientStore(env.doc, 'no-such-table')));
    const body = Buffer.from(JSON.stringify({ ...offboarded(waba, T + 100), entry: [{ id: waba, time: T + 100, changes: [{ field: 'account_update', value: { event: 'ACCOUNT_OFFBOARDED' } }, messagesChange(waba, T + 100)] }] }));
    const r = await broken(httpEvent({ method: 'POST', path: '/webhook', body, headers: { 'x-hub-signature-256': signBody(body, SECRET) } }));
    expect(r.statusCode).toBe(500);
    expect(r.body).not.toContain('no-such-table');
    expect((await view(waba)).statusCode).toBe(404);
    const queued = (await drain(env.sqs, env.queues.inbound as string)).filter((m) => m.Body?.includes(waba));
    expect(queued).toHaveLength(0);
  });

  it('answers 500 when SQS fails; the redelivery completes the request without repeating anything', async () => {
    const waba = uniqueWaba();
    const payload = { object: 'whatsapp_business_account', entry: [{ id: waba, time: T + 100, changes: [{ field: 'account_update', value: { event: 'ACCOUNT_OFFBOARDED' } }, messagesChange(waba, T + 100)] }] };
    const deadSqs = localSqs('http://127.0.0.1:9');
    const broken = createWebhookHandler(deps(env.store, new SqsInboundEventSink(deadSqs, `${env.queues.inbound}`)));
    const body = Buffer.from(JSON.stringify(payload));
    const headers = { 'x-hub-signature-256': signBody(body, SECRET) };
    expect((await broken(httpEvent({ method: 'POST', path: '/webhook', body, headers }))).statusCode).toBe(500);
    expect((await post(payload)).statusCode).toBe(200);
    const v = await view(waba);
    expect(v.body.status).toBe('OFFBOARDED');
    expect(v.body.timeline).toHaveLength(1);
    const queued = (await drain(env.sqs, env.queues.inbound as string)).filter((m) => m.Body?.includes(waba));
    expect(queued).toHaveLength(1);
  });

  it('asks for a release when a client is connected again, in the same write sets the drain flag, and asks again on a redelivery', async () => {
    const waba = uniqueWaba();
    const released = () =>
      drain(env.sqs, env.queues.release as string).then((ms) => ms.map((m) => JSON.parse(m.Body ?? '{}')).filter((b) => b.wabaId === waba));
    expect((await post(offboarded(waba, 1768477204))).statusCode).toBe(200);
    expect(await released()).toEqual([]);
    expect((await post(reconnected(waba, 1768477203))).statusCode).toBe(200);
    expect(await released()).toEqual([{ wabaId: waba, trigger: 'status-connected', requestedAt: expect.any(String) }]);
    const item = await env.doc.send(new GetCommand({ TableName: env.tableName, Key: keys.status(waba) }));
    expect(item.Item?.[RELEASE_ATTRS.drainSince]).toEqual(expect.any(Number));
    // Meta delivers the same POST again (say our 200 was lost): the request is asked again, idempotent.
    expect((await post(reconnected(waba, 1768477203))).statusCode).toBe(200);
    expect(await released()).toHaveLength(1);
    // An informational event for a connected client asks nothing.
    expect((await post(accountUpdate(waba, 'ACCOUNT_VIOLATION', 1768477300, { violation_info: { violation_type: 'X' } }))).statusCode).toBe(200);
    expect(await released()).toEqual([]);
  });

  it('answers 500 when the release request cannot be queued; the redelivery asks again', async () => {
    const waba = uniqueWaba();
    await post(offboarded(waba, 1768477204));
    const broken = createWebhookHandler(deps(env.store, undefined, new SqsReleaseQueue(localSqs('http://127.0.0.1:9'), `${env.queues.release}`)));
    const body = Buffer.from(JSON.stringify(reconnected(waba, 1768477300)));
    const headers = { 'x-hub-signature-256': signBody(body, SECRET) };
    expect((await broken(httpEvent({ method: 'POST', path: '/webhook', body, headers }))).statusCode).toBe(500);
    expect((await post(reconnected(waba, 1768477300))).statusCode).toBe(200);
    const queued = (await drain(env.sqs, env.queues.release as string)).filter((m) => m.Body?.includes(waba));
    expect(queued).toHaveLength(1);
  });

  it('records an unknown event without changing status and never answers 5xx for it', async () => {
    const waba = uniqueWaba();
    await post(offboarded(waba, T + 100));
    expect((await post(accountUpdate(waba, 'BRAND_NEW_EVENT', T + 200, { shiny: { a: 1 } }))).statusCode).toBe(200);
    const v = await view(waba);
    expect(v.body.status).toBe('OFFBOARDED');
    expect(v.body.timeline[0]).toMatchObject({ event: 'BRAND_NEW_EVENT', effect: 'informational', detail: { unknownProperties: ['shiny'] } });
  });

  it('sets a TTL on timeline entries and none on the client status', async () => {
    const waba = uniqueWaba();
    await post(offboarded(waba, T + 100));
    const items = await env.doc.send(new ScanCommand({ TableName: env.tableName, FilterExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `CLIENT#${waba}` } }));
    const timeline = items.Items?.find((i) => String(i.sk).startsWith('EVENT#'));
    const client = items.Items?.find((i) => i.sk === 'STATUS');
    const inDays = ((timeline?.expiresAt as number) - Date.now() / 1000) / 86_400;
    expect(inDays).toBeGreaterThan(29.9);
    expect(inDays).toBeLessThan(30.1);
    expect(client?.expiresAt).toBeUndefined();
  });
});

describe('GET /clients/{wabaId}', () => {
  it('rejects an id that cannot be a WABA id', async () => {
    const r = await status(httpEvent({ method: 'GET', path: '/clients/x', pathParameters: { wabaId: 'a b' } }));
    expect(r.statusCode).toBe(400);
  });
  it('answers 500 without internals when the table is unreachable', async () => {
    const broken = createStatusHandler({ store: new DynamoClientStore(env.doc, 'missing-table'), telemetry, reconnectSkewMs: 0 });
    const r = await broken(httpEvent({ method: 'GET', path: '/clients/1', pathParameters: { wabaId: '1' } }));
    expect(r.statusCode).toBe(500);
    expect(r.body).toBe('{"error":"internal error"}');
  });
});


describe('POST /webhook bodies the relay cannot read', () => {
  it('keeps a signed body of an unknown shape on the inbound-events queue and answers 200', async () => {
    const waba = uniqueWaba();
    const payload = { object: 'whatsapp_business_account', entry: `not-a-list-${waba}` };
    expect((await post(payload)).statusCode).toBe(200);
    const queued = (await drain(env.sqs, env.queues.inbound as string)).map((m) => JSON.parse(m.Body ?? '{}')).filter((m) => JSON.stringify(m).includes(waba));
    expect(queued).toEqual([expect.objectContaining({ field: 'unreadable', raw: payload, problem: expect.stringContaining('entry') })]);
  });

  it('forwards an unreadable body too large for one SQS message truncated, not refused', async () => {
    const waba = uniqueWaba();
    const payload = { object: 'whatsapp_business_account', entry: { waba, blob: 'z'.repeat(2_000_000) } };
    expect((await post(payload)).statusCode).toBe(200);
    const queued = (await drain(env.sqs, env.queues.inbound as string)).map((m) => JSON.parse(m.Body ?? '{}')).filter((m) => m.truncated?.text?.includes(waba));
    expect(queued).toHaveLength(1);
    expect(queued[0].truncated.originalBytes).toBeGreaterThan(2_000_000);
  });
});
