import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoMessageOutcomeStore } from '../../lambdas/adapters/dynamo/message-outcome-store.js';
import { keys } from '../../lambdas/adapters/dynamo/table.js';
import { SqsInboundEventSink, SqsOutboundEnqueuer } from '../../lambdas/adapters/sqs.js';
import { SqsReleaseQueue } from '../../lambdas/adapters/sqs-release.js';
import { parseEnvelope } from '../../lambdas/core/outbound/envelope.js';
import { MessageOutcomeService } from '../../lambdas/core/outcomes/message-outcome-service.js';
import { encodeCallbackData } from '../../lambdas/core/outcomes/message-outcome.js';
import type { MessageView } from '../../lambdas/core/outcomes/message-view.js';
import type { MessageOutcomeStore, RelayEventPublisher } from '../../lambdas/core/outcomes/ports.js';
import type { RelayEvent } from '../../lambdas/core/outcomes/relay-events.js';
import { signBody } from '../../lambdas/core/webhook/signature.js';
import { createStatusHandler } from '../../lambdas/status/handler.js';
import { createWebhookHandler } from '../../lambdas/webhook/handler.js';
import { httpEvent, localResources, takeAll } from '../support/aws.js';
import { RecordingTelemetry } from '../support/telemetry.js';
import { statusChange, statusesWebhook, type StatusInit } from '../support/webhooks.js';

const SECRET = 'outcome-secret';
const T = 1_768_000_000;
const WABA = '1029384756';

let env: Awaited<ReturnType<typeof localResources>>;
let store: DynamoMessageOutcomeStore;
let published: RelayEvent[];
let lookups: number;
let telemetry: RecordingTelemetry;
let webhook: ReturnType<typeof createWebhookHandler>;
let status: ReturnType<typeof createStatusHandler>;

const recorder: RelayEventPublisher = { publish: async (events) => void published.push(...events) };

beforeAll(async () => {
  env = await localResources(['inbound', 'release', 'outbound']);
  store = new DynamoMessageOutcomeStore(env.doc, env.tableName, 15);
  // Counts wamid lookups: a status carrying the relay's callback data must not need one.
  const counted: MessageOutcomeStore = {
    record: (...a) => store.record(...a),
    recordSend: (...a) => store.recordSend(...a),
    read: (...a) => store.read(...a),
    findByWamid: (wamids) => {
      lookups++;
      return store.findByWamid(wamids);
    },
  };
  telemetry = new RecordingTelemetry();
  webhook = createWebhookHandler({
    store: env.store,
    inbound: new SqsInboundEventSink(env.sqs, env.queues.inbound as string),
    releases: new SqsReleaseQueue(env.sqs, env.queues.release as string),
    outcomes: new MessageOutcomeService({
      store: counted,
      events: recorder,
      telemetry,
      fallbacks: new SqsOutboundEnqueuer(env.sqs, env.queues.outbound as string),
    }),
    telemetry,
    secrets: async () => ({ appSecrets: [SECRET], verifyToken: 'v' }),
    reconnectSkewMs: 300_000,
    timelineRetentionDays: 30,
  });
  status = createStatusHandler({ store: env.store, messages: store, telemetry, reconnectSkewMs: 300_000 });
});

beforeEach(async () => {
  published = [];
  lookups = 0;
  await takeAll(env.sqs, env.queues.inbound as string);
});

const post = async (payload: unknown) => {
  const body = Buffer.from(JSON.stringify(payload));
  const r = await webhook(httpEvent({ method: 'POST', path: '/webhook', body, headers: { 'x-hub-signature-256': signBody(body, SECRET) } }));
  expect(r.statusCode).toBe(200);
};

const view = async (messageId: string, wabaId = WABA) => {
  const r = await status(httpEvent({ method: 'GET', path: `/messages/${wabaId}/${messageId}`, pathParameters: { wabaId, messageId } }));
  return { status: r.statusCode, body: JSON.parse(String(r.body)) as MessageView };
};

/** A message the relay sent: its send claim settled SENT with the wamid, as the send ledger writes it. */
const sent = async (messageId: string, wamid: string, atS = T) => {
  await env.doc.send(
    new UpdateCommand({
      TableName: env.tableName,
      Key: keys.ledger(WABA, messageId),
      UpdateExpression: 'SET #s = :s, wamid = :w, sentAt = :at',
      ExpressionAttributeNames: { '#s': 'state' },
      ExpressionAttributeValues: { ':s': 'SENT', ':w': wamid, ':at': new Date(atS * 1000).toISOString() },
    }),
  );
};

const ours = (messageId: string) => encodeCallbackData({ wabaId: WABA, messageId });

describe('status webhooks -> message outcomes', () => {
  it('reads several statuses per change with pricing and conversation, without a read when the callback data is the relay own', async () => {
    await sent('m-1', 'wamid.m1');
    await sent('m-2', 'wamid.m2');
    const s = (id: string, wamid: string, st: string, at: number): StatusInit => ({ wamid, status: st, timestamp: at, callbackData: ours(id) });
    await post(statusesWebhook(WABA, [statusChange([s('m-1', 'wamid.m1', 'sent', T + 1), s('m-1', 'wamid.m1', 'delivered', T + 2), s('m-2', 'wamid.m2', 'sent', T + 1)])]));
    expect(lookups).toBe(0);
    const v = await view('m-1');
    expect(v.status).toBe(200);
    expect(v.body).toMatchObject({ outcome: 'delivered', wamid: 'wamid.m1', send: { state: 'SENT' } });
    expect(v.body.history.map((h) => [h.state, h.at, h.source])).toEqual([
      ['sent', new Date((T + 1) * 1000).toISOString(), 'webhook'],
      ['delivered', new Date((T + 2) * 1000).toISOString(), 'webhook'],
    ]);
    expect(v.body.history[1]?.pricing).toEqual({ billable: true, pricing_model: 'PMP', category: 'utility', type: 'regular' });
    expect(v.body.history[1]?.conversation).toMatchObject({ id: expect.any(String), originType: 'utility' });
    expect(published.map((e) => [e.type, e.messageId])).toEqual(expect.arrayContaining([['message.delivered', 'm-1'], ['message.sent', 'm-2']]));
    // Statuses of one message in one POST are applied highest first: `sent` is history, only `delivered` publishes.
    expect(published.some((e) => e.type === 'message.sent' && e.messageId === 'm-1')).toBe(false);
    // The raw change still goes to the inbound-events queue, exactly as before.
    const inbound = await takeAll(env.sqs, env.queues.inbound as string);
    expect(inbound.map((m) => JSON.parse(String(m.Body)).field)).toEqual(['messages']);
    expect(JSON.parse(String(inbound[0]?.Body)).value.statuses).toHaveLength(3);
  });

  it('never moves an outcome back: out of order and duplicated statuses end as read', async () => {
    await sent('m-3', 'wamid.m3');
    const s = (st: string, at: number): StatusInit => ({ wamid: 'wamid.m3', status: st, timestamp: at, callbackData: ours('m-3') });
    await post(statusesWebhook(WABA, [statusChange([s('read', T + 30)])]));
    await post(statusesWebhook(WABA, [statusChange([s('delivered', T + 20), s('sent', T + 10)])]));
    await post(statusesWebhook(WABA, [statusChange([s('read', T + 30), s('delivered', T + 20)])]));
    const v = await view('m-3');
    expect(v.body.outcome).toBe('read');
    expect(v.body.history.map((h) => h.state)).toEqual(['sent', 'delivered', 'read']);
    // Only the outcome's own status publishes; its duplicate publishes the same event (same id) again.
    expect(published.map((e) => e.type)).toEqual(['message.read', 'message.read']);
    expect(new Set(published.map((e) => e.id)).size).toBe(1);
  });

  it('finds statuses without the relay callback data by the wamid item, and ignores wamids the relay never sent', async () => {
    await sent('m-4', 'wamid.m4');
    await store.recordSend({ wabaId: WABA, messageId: 'm-4' }, { wamid: 'wamid.m4', rememberWamid: true }, T * 1000);
    await post(
      statusesWebhook(WABA, [
        statusChange([
          { wamid: 'wamid.m4', status: 'delivered', timestamp: T + 5, callbackData: 'crm-ticket-7' },
          { wamid: 'wamid.unknown', status: 'delivered', timestamp: T + 5 },
          // Callback data naming a message of another WABA is not trusted.
          { wamid: 'wamid.other', status: 'delivered', timestamp: T + 5, callbackData: encodeCallbackData({ wabaId: 'another', messageId: 'm-4' }) },
        ]),
      ]),
    );
    expect(lookups).toBe(1);
    expect((await view('m-4')).body).toMatchObject({ outcome: 'delivered', wamid: 'wamid.m4' });
    expect((await view('m-4', 'another')).status).toBe(404);
    expect(telemetry.get('MessageStatusesUnmatched')).toBeGreaterThanOrEqual(2);
    expect(await takeAll(env.sqs, env.queues.inbound as string)).toHaveLength(1);
  });

  it('a status naming its recipient by BSUID only (no recipient_id) moves the outcome, and the event shows who', async () => {
    await sent('m-u', 'wamid.u');
    await post(
      statusesWebhook(WABA, [
        statusChange([{ wamid: 'wamid.u', status: 'delivered', timestamp: T + 3, callbackData: encodeCallbackData({ wabaId: WABA, messageId: 'm-u' }), userId: 'US.13491208655302741918', parentUserId: 'US.ENT.11815799212886844830' }]),
      ]),
    );
    expect((await view('m-u')).body).toMatchObject({ outcome: 'delivered', wamid: 'wamid.u' });
    expect(published.find((e) => e.messageId === 'm-u')?.detail).toMatchObject({ recipient: { userId: 'US.13491208655302741918', parentUserId: 'US.ENT.11815799212886844830' } });
  });

  it("does not trust a sender's own callback data in the relay's format: a failed status for X never marks Y or sends Y's fallback", async () => {
    // Y: sent by the relay with its own callback data, and a fallback kept for it.
    await sent('m-y', 'wamid.y');
    const template = { messaging_product: 'whatsapp', to: '15551234567', type: 'template', template: { name: 'order_update', language: { code: 'en' } } };
    await store.recordSend({ wabaId: WABA, messageId: 'm-y' }, { wamid: 'wamid.y', rememberWamid: false, fallback: { phoneNumberId: '555001', payload: template } }, T * 1000);
    // X: the sender set biz_opaque_callback_data itself, copying the relay's format and naming Y.
    await sent('m-x', 'wamid.x');
    await store.recordSend({ wabaId: WABA, messageId: 'm-x' }, { wamid: 'wamid.x', rememberWamid: true }, T * 1000);
    const forged = encodeCallbackData({ wabaId: WABA, messageId: 'm-y' });
    await post(
      statusesWebhook(WABA, [
        statusChange([{ wamid: 'wamid.x', status: 'failed', timestamp: T + 9, callbackData: forged, errors: [{ code: 131047, title: 'Re-engagement message' }] }]),
      ]),
    );
    // The status is about X (its wamid): Y is untouched and its fallback is not queued.
    expect((await view('m-y')).body).not.toMatchObject({ outcome: 'failed' });
    expect((await view('m-x')).body).toMatchObject({ outcome: 'failed', wamid: 'wamid.x' });
    expect(await takeAll(env.sqs, env.queues.outbound as string)).toEqual([]);
    expect(telemetry.get('CallbackDataNotTrusted')).toBeGreaterThanOrEqual(1);
  });

  it('async 131047 with a fallback: the outcome fails window-closed and the fallback is queued once per status, as an envelope', async () => {
    await sent('m-5', 'wamid.m5');
    const template = { messaging_product: 'whatsapp', to: '15551234567', type: 'template', template: { name: 'order_update', language: { code: 'en' } } };
    await store.recordSend({ wabaId: WABA, messageId: 'm-5' }, { wamid: 'wamid.m5', rememberWamid: false, fallback: { phoneNumberId: '555001', payload: template } }, T * 1000);
    const failed: StatusInit = {
      wamid: 'wamid.m5',
      status: 'failed',
      timestamp: T + 3,
      callbackData: ours('m-5'),
      errors: [{ code: 131047, title: 'Re-engagement message', message: 'Re-engagement message', error_data: { details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.' } }],
    };
    await post(statusesWebhook(WABA, [statusChange([failed])]));
    const v = await view('m-5');
    expect(v.body).toMatchObject({ outcome: 'failed', reason: 'window-closed', fallback: { messageId: 'm-5:fallback', outcome: null } });
    expect(v.body.history.at(-1)?.errors?.[0]).toMatchObject({ code: 131047, title: 'Re-engagement message' });
    const queued = await takeAll(env.sqs, env.queues.outbound as string);
    expect(queued).toHaveLength(1);
    const envelope = parseEnvelope(String(queued[0]?.Body));
    expect(envelope).toEqual({
      ok: true,
      envelope: { messageId: 'm-5:fallback', wabaId: WABA, phoneNumberId: '555001', payload: template, metadata: { fallbackFor: 'm-5' } },
    });
    expect(published).toEqual([expect.objectContaining({ type: 'message.failed', messageId: 'm-5', detail: expect.objectContaining({ reason: 'window-closed', fallbackMessageId: 'm-5:fallback' }) })]);
    // A later `read` (Meta's order is not guaranteed) does not undo the failure.
    await post(statusesWebhook(WABA, [statusChange([{ wamid: 'wamid.m5', status: 'read', timestamp: T + 9, callbackData: ours('m-5') }])]));
    expect((await view('m-5')).body.outcome).toBe('failed');
  });

  it('async 131047 without a fallback: failed window-closed, nothing queued', async () => {
    await sent('m-6', 'wamid.m6');
    await post(statusesWebhook(WABA, [statusChange([{ wamid: 'wamid.m6', status: 'failed', timestamp: T + 3, callbackData: ours('m-6'), errors: [{ code: 131047, title: 'Re-engagement message' }] }])]));
    expect((await view('m-6')).body).toMatchObject({ outcome: 'failed', reason: 'window-closed' });
    expect((await view('m-6')).body.fallback).toBeUndefined();
    expect(await takeAll(env.sqs, env.queues.outbound as string)).toHaveLength(0);
    // A fallback that itself fails with 131047 has no fallback of its own.
    await post(statusesWebhook(WABA, [statusChange([{ wamid: 'wamid.f', status: 'failed', timestamp: T + 3, callbackData: ours('m-6:fallback'), errors: [{ code: 131047 }] }])]));
    expect(await takeAll(env.sqs, env.queues.outbound as string)).toHaveLength(0);
  });

  it('answers 404 for a message it knows nothing of and 400 for a bad WABA id', async () => {
    expect((await view('never-sent')).status).toBe(404);
    expect((await view('m-1', 'bad#id')).status).toBe(400);
    expect((await view('x'.repeat(138))).status).toBe(400);
  });
});
