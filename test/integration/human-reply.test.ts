/**
 * Automation yields to a human: after the business owner answered a customer from the WhatsApp Business app, an
 * envelope marked `automated` to that customer waits until HUMAN_REPLY_HOLD_SECONDS have passed, then goes once;
 * envelopes without the mark never wait. Both executors, on DynamoDB Local and fauxqs, against the stand-in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoHumanReplyStore } from '../../lambdas/adapters/dynamo/human-reply-store.js';
import { SqsInboundEventSink } from '../../lambdas/adapters/sqs.js';
import type { RelayEvent } from '../../lambdas/core/outcomes/relay-events.js';
import { signBody } from '../../lambdas/core/webhook/signature.js';
import { createStatusHandler } from '../../lambdas/status/handler.js';
import { createWebhookHandler } from '../../lambdas/webhook/handler.js';
import { CloudApiStandIn } from '../../local/cloud-api-stand-in.js';
import { httpEvent } from '../support/aws.js';
import { executors, type Executors } from '../support/executors.js';

let api: CloudApiStandIn;
let x: Executors;
let humans: DynamoHumanReplyStore;
const HOLD_SECONDS = 2;

beforeAll(async () => {
  api = await new CloudApiStandIn().start();
  x = await executors(api, { HUMAN_REPLY_HOLD_SECONDS: String(HOLD_SECONDS) });
  humans = new DynamoHumanReplyStore(x.env.doc, x.env.tableName);
});
afterAll(async () => {
  await api.stop();
});

const customer = '15550004444';
const to = (e: ReturnType<Executors['envelope']>, automated: boolean) => ({ ...e, payload: { ...e.payload, to: customer }, ...(automated ? { automated: true } : {}) });

describe('a human reply holds automated messages to that customer', () => {
  it('an smb_message_echoes webhook records the reply (one write per customer), publishes conversation.human_replied, and holds automated messages', async () => {
    const wabaId = x.uid('w');
    const phone = x.uid('pn');
    const published: RelayEvent[] = [];
    const webhook = createWebhookHandler({
      store: x.env.store,
      humanReplies: humans,
      inbound: new SqsInboundEventSink(x.env.sqs, x.env.queues.delay as string),
      releases: { requestRelease: async () => undefined },
      events: { publish: async (e) => void published.push(...e) },
      telemetry: x.telemetry,
      secrets: async () => ({ appSecrets: ['echo-secret'], verifyToken: 'v' }),
      reconnectSkewMs: 0,
      timelineRetentionDays: 1,
    });
    const t = Math.floor(Date.now() / 1000);
    const echo = (to: string, ts: number) => ({ from: '15550001234', to, id: `wamid.${ts}`, timestamp: String(ts), type: 'text', text: { body: 'answered by a person' } });
    const body = Buffer.from(
      JSON.stringify({
        object: 'whatsapp_business_account',
        entry: [{ id: wabaId, changes: [{ field: 'smb_message_echoes', value: { messaging_product: 'whatsapp', metadata: { display_phone_number: '15550001234', phone_number_id: phone }, message_echoes: [echo(customer, t - 1), echo(customer, t)] } }] }],
      }),
    );
    const r = await webhook(httpEvent({ method: 'POST', path: '/webhook', body, headers: { 'x-hub-signature-256': signBody(body, 'echo-secret') } }));
    expect(r.statusCode).toBe(200);
    expect(published.filter((e) => e.type === 'conversation.human_replied')).toEqual([
      expect.objectContaining({ wabaId, detail: { phoneNumberId: phone, customer, repliedAt: new Date(t * 1000).toISOString() } }),
    ]);
    expect(await humans.countHeld(wabaId, Date.now(), HOLD_SECONDS + 5)).toBe(1);
    // GET /clients/{wabaId} shows it.
    const status = createStatusHandler({ store: x.env.store, telemetry: x.telemetry, reconnectSkewMs: 0, humanHeld: (w, now) => humans.countHeld(w, now, HOLD_SECONDS + 5) });
    await x.status(wabaId, 'RECONNECTED');
    const view = await status(httpEvent({ method: 'GET', path: `/clients/${wabaId}`, pathParameters: { wabaId } }));
    expect(JSON.parse(String(view.body))).toMatchObject({ humanHold: { customers: 1 } });
    const bot = to(x.envelope(wabaId, phone), true);
    await x.enqueue(bot);
    expect(x.callsFor(bot)).toHaveLength(0);
  });

  it('keeps only the latest reply per customer, whatever order echoes arrive in, and counts the customers held', async () => {
    const wabaId = x.uid('w');
    const now = Date.now();
    const a = { wabaId, phoneNumberId: 'pn', customer: 'c1', atMs: now };
    expect(await humans.record([a, { ...a, atMs: now - 5_000 }], 3_600)).toEqual([a]);
    expect(await humans.record([{ ...a, atMs: now - 1_000 }], 3_600)).toEqual([]);
    await humans.record([{ ...a, customer: 'c2', atMs: now - 60_000 }], 3_600);
    expect(await humans.countHeld(wabaId, now, 30)).toBe(1);
    expect(await humans.countHeld(wabaId, now, 0)).toBe(0);
  });

  it('the consumer parks an automated message (human-replied) and sends a human-written one at once; the automated one goes once the hold ends', async () => {
    const wabaId = x.uid('w');
    const phone = x.uid('pn');
    await humans.record([{ wabaId, phoneNumberId: phone, customer, atMs: Date.now() }], 3_600);
    const bot = to(x.envelope(wabaId, phone), true);
    const person = to(x.envelope(wabaId, phone), false);
    await x.enqueue(bot, person);
    expect(x.callsFor(bot)).toHaveLength(0);
    expect(x.callsFor(person)).toHaveLength(1);
    expect(x.telemetry.get('ParkedForHumanReply')).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, HOLD_SECONDS * 1000 + 200));
    await x.hop(4_000);
    expect(x.callsFor(bot)).toHaveLength(1);
    expect(await x.ledgerState(bot)).toBe('SENT');
  });

  it('a release keeps an automated copy parked during the hold and sends the other customers\' messages', async () => {
    const wabaId = x.uid('w');
    const phone = x.uid('pn');
    await x.status(wabaId, 'OFFBOARDED');
    const bot = to(x.envelope(wabaId, phone), true);
    const other = { ...x.envelope(wabaId, phone), automated: true };
    await x.enqueue(bot, other);
    await x.status(wabaId, 'RECONNECTED');
    await humans.record([{ wabaId, phoneNumberId: phone, customer, atMs: Date.now() }], 3_600);
    const out = await x.release(wabaId);
    expect(x.callsFor(bot)).toHaveLength(0);
    expect(x.callsFor(other)).toHaveLength(1);
    expect(out).toMatchObject({ outcome: 'continued', progress: { state: 'paused', reason: 'human-replied' } });
    await new Promise((r) => setTimeout(r, HOLD_SECONDS * 1000 + 200));
    await x.release(wabaId);
    expect(x.callsFor(bot)).toHaveLength(1);
  });
});
