import { randomUUID } from 'node:crypto';
import type { SNSClient } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnsRelayEventPublisher } from '../../lambdas/adapters/sns-events.js';
import { SdkSnsBatchSender } from '../../lambdas/adapters/sns-batch.js';
import { SqsInboundEventSink } from '../../lambdas/adapters/sqs.js';
import { SqsReleaseQueue } from '../../lambdas/adapters/sqs-release.js';
import type { RelayEventPublisher } from '../../lambdas/core/outcomes/ports.js';
import { parseRelayEvent } from '../../lambdas/core/outcomes/relay-event-schema.js';
import { type RelayEvent, relayEventId } from '../../lambdas/core/outcomes/relay-events.js';
import { signBody } from '../../lambdas/core/webhook/signature.js';
import { createWebhookHandler } from '../../lambdas/webhook/handler.js';
import { ensureTopic, localSns, subscribeQueue } from '../../local/services.js';
import { httpEvent, localResources, takeAll } from '../support/aws.js';
import { RecordingTelemetry } from '../support/telemetry.js';
import { accountUpdate, offboarded, partnerEvent, reconnected } from '../support/webhooks.js';

const SECRET = 'events-secret';
const T = 1_768_000_000;

let env: Awaited<ReturnType<typeof localResources>>;
let sns: SNSClient;
let topicArn: string;

/** Passes events to SNS and remembers each call (or fails every call while `failing`). */
class RecordingPublisher implements RelayEventPublisher {
  readonly calls: RelayEvent[][] = [];
  failing = false;
  constructor(private readonly inner: RelayEventPublisher) {}
  async publish(events: readonly RelayEvent[]): Promise<void> {
    this.calls.push([...events]);
    if (this.failing) throw new Error('SNS unavailable (injected)');
    await this.inner.publish(events);
  }
}

let publisher: RecordingPublisher;
let webhook: ReturnType<typeof createWebhookHandler>;

beforeAll(async () => {
  env = await localResources(['inbound', 'release', 'events']);
  sns = localSns(env.sqsEndpoint);
  topicArn = await ensureTopic(sns, `relay-events-${randomUUID().slice(0, 8)}`);
  await subscribeQueue(sns, env.sqs, topicArn, env.queues.events as string);
  publisher = new RecordingPublisher(new SnsRelayEventPublisher(new SdkSnsBatchSender(localSns(env.sqsEndpoint)), topicArn));
  webhook = createWebhookHandler({
    store: env.store,
    inbound: new SqsInboundEventSink(env.sqs, env.queues.inbound as string),
    releases: new SqsReleaseQueue(env.sqs, env.queues.release as string),
    events: publisher,
    telemetry: new RecordingTelemetry(),
    secrets: async () => ({ appSecrets: [SECRET], verifyToken: 't' }),
    reconnectSkewMs: 300_000,
    timelineRetentionDays: 30,
  });
});

afterAll(() => sns.destroy());

const post = async (payload: unknown) => {
  const body = Buffer.from(JSON.stringify(payload));
  return (await webhook(httpEvent({ method: 'POST', path: '/webhook', body, headers: { 'x-hub-signature-256': signBody(body, SECRET) } }))).statusCode;
};

const delivered = async (wabaId: string) =>
  (await takeAll(env.sqs, env.queues.events as string)).map((m) => parseRelayEvent(m.Body ?? '')).filter((e) => e.wabaId === wabaId);

let n = Math.floor(Math.random() * 1e9);
const uniqueWaba = () => String(++n);

describe('client.status_changed from the webhook', () => {
  it('is published exactly when an event changes the derived status, with from, to and the event that did it', async () => {
    const waba = uniqueWaba();
    // Events an hour apart: the reconnection skew rule (300 s here) plays no part.
    const h = (k: number) => T + k * 3600;
    expect(await post(reconnected(waba, h(0)))).toBe(200); // never seen reads CONNECTED: no change
    expect(await post(offboarded(waba, h(1)))).toBe(200); // CONNECTED -> OFFBOARDED
    expect(await post(offboarded(waba, h(2)))).toBe(200); // a later offboarding: still OFFBOARDED
    expect(await post(reconnected(waba, h(1) - 1800))).toBe(200); // a reconnection older than the offboarding: no change
    expect(await post(accountUpdate(waba, 'ACCOUNT_VIOLATION', h(3), { violation_info: { violation_type: 'X' } }))).toBe(200);
    expect(await post(reconnected(waba, h(4)))).toBe(200); // OFFBOARDED -> CONNECTED
    expect(await post(partnerEvent('p', waba, 'PARTNER_REMOVED', h(5)))).toBe(200); // CONNECTED -> REMOVED

    const got = await delivered(waba);
    const iso = (s: number) => new Date(s * 1000).toISOString();
    expect(got.map((e) => [e.type, e.detail.from, e.detail.to, e.detail.event, e.time])).toEqual([
      ['client.status_changed', 'CONNECTED', 'OFFBOARDED', 'ACCOUNT_OFFBOARDED', iso(h(1))],
      ['client.status_changed', 'OFFBOARDED', 'CONNECTED', 'ACCOUNT_RECONNECTED', iso(h(4))],
      ['client.status_changed', 'CONNECTED', 'REMOVED', 'PARTNER_REMOVED', iso(h(5))],
    ]);
    for (const e of got) {
      expect(e).toMatchObject({ wabaId: waba, detail: { eventId: expect.any(String) } });
      expect(e.id).toBe(relayEventId('client.status_changed', waba, e.detail.eventId as string));
    }
  });

  it('gives a redelivered webhook the same event (same id): subscribers dedupe on it', async () => {
    const waba = uniqueWaba();
    expect(await post(offboarded(waba, T + 100))).toBe(200);
    expect(await post(offboarded(waba, T + 100))).toBe(200);
    const got = await delivered(waba);
    expect(got).toHaveLength(2); // at least once: the redelivery publishes again
    expect(got[1]).toEqual(got[0]);
  });

  it('publishes the changes of one POST together, once per change', async () => {
    const waba = uniqueWaba();
    const other = uniqueWaba();
    const before = publisher.calls.length;
    const payload = {
      object: 'whatsapp_business_account',
      entry: [
        { id: waba, time: T + 200, changes: [{ field: 'account_update', value: { event: 'ACCOUNT_OFFBOARDED' } }] },
        { id: other, time: T + 200, changes: [{ field: 'account_update', value: { event: 'ACCOUNT_DELETED' } }] },
      ],
    };
    expect(await post(payload)).toBe(200);
    expect(publisher.calls.length - before).toBe(1);
    expect(publisher.calls.at(-1)?.map((e) => [e.wabaId, e.detail.to]).sort()).toEqual([[other, 'DELETED'], [waba, 'OFFBOARDED']].sort());
  });

  it('answers 500 when the event cannot be published, keeps the status write, and the redelivery publishes the same event', async () => {
    const waba = uniqueWaba();
    publisher.failing = true;
    try {
      expect(await post(offboarded(waba, T + 300))).toBe(500);
    } finally {
      publisher.failing = false;
    }
    const client = await env.store.getClient(waba);
    expect(client?.latest.OFFBOARDED?.eventTimeMs).toBe((T + 300) * 1000); // the status write stands
    const refused = publisher.calls.at(-1);
    expect(await delivered(waba)).toEqual([]);

    // Meta delivers again: the status write is a duplicate now, yet the event goes out, identical to the refused one.
    expect(await post(offboarded(waba, T + 300))).toBe(200);
    const got = await delivered(waba);
    expect(got).toEqual(refused);
    expect(got[0]?.detail).toMatchObject({ from: 'CONNECTED', to: 'OFFBOARDED' });
  });
});
