import { describe, expect, it } from 'vitest';
import { DynamoMessageOutcomeStore } from '../../lambdas/adapters/dynamo/message-outcome-store.js';
import { DynamoSendLedger } from '../../lambdas/adapters/dynamo/outbound-stores.js';
import type { CloudApiResult } from '../../lambdas/core/outbound/cloud-api-result.js';
import { decodeCallbackData } from '../../lambdas/core/outcomes/message-outcome.js';
import { readMessageView } from '../../lambdas/core/outcomes/message-view.js';
import { OutboundService, type OutboundRecord } from '../../lambdas/core/outbound/outbound-service.js';
import { orderKeyOf } from '../../lambdas/core/status/client-status.js';
import type { QueueMessage } from '../../lambdas/core/outbound/ports.js';
import type { RelayEvent } from '../../lambdas/core/outcomes/relay-events.js';
import { localResources } from '../support/aws.js';
import { MemoryParkedStore, RecordingReleases } from '../support/release.js';
import { RecordingTelemetry } from '../support/telemetry.js';

/**
 * The consumer's send path with message outcomes: the real send ledger and outcome store on DynamoDB Local, a scripted
 * Cloud API (per messageId) that records the payloads it was sent, recording queues and events.
 */
const NOW = Date.parse('2026-11-26T09:00:00Z');
const WINDOW_CLOSED: CloudApiResult = { kind: 'http-error', status: 400, error: { code: 131047, message: 'Re-engagement message' } };

const setup = async (script: Record<string, CloudApiResult> = {}, offboarded = false) => {
  const { doc, tableName } = await localResources([]);
  const messages = new DynamoMessageOutcomeStore(doc, tableName, 15);
  const sent: { messageId: string; payload: Record<string, unknown> }[] = [];
  const parked: QueueMessage[] = [];
  const dead: QueueMessage[] = [];
  const events: RelayEvent[] = [];
  const publishCalls: number[] = [];
  let n = 0;
  const service = new OutboundService({
    statuses: {
      readBatch: async (ids) => ({
        latest: new Map(
          ids.map((i) => [
            i,
            offboarded ? { OFFBOARDED: { orderKey: orderKeyOf(NOW - 1000, 'e'), event: 'ACCOUNT_OFFBOARDED', eventId: 'e', eventTimeMs: NOW - 1000, appliedAt: '' } } : {},
          ]),
        ),
        health: new Map(),
        phoneOwners: new Map(),
        releases: new Map(),
        ledger: new Map(),
        humanReplies: new Map(),
        phoneNumbers: new Map(),
      }),
    },
    parked: new MemoryParkedStore(),
    releases: new RecordingReleases(),
    phones: { learn: async () => undefined },
    ledger: new DynamoSendLedger(doc, tableName, 60_000, 15),
    phoneNumbers: { record: async () => undefined },
    queues: {
      park: async (m) => {
        parked.push(...m);
        return new Set<string>();
      },
      deadLetter: async (m) => {
        dead.push(...m);
        return new Set<string>();
      },
    },
    cloudApi: {
      send: async (_phone, payload) => {
        const data = decodeCallbackData(payload.biz_opaque_callback_data as string | undefined, 'w');
        const messageId = data?.messageId ?? String(payload.biz_opaque_callback_data);
        sent.push({ messageId, payload: { ...payload } });
        return script[messageId] ?? { kind: 'accepted', wamid: `wamid.${++n}` };
      },
    },
    tokens: { tokenFor: async () => 'tok' },
    telemetry: new RecordingTelemetry(),
    parkDelaySchedule: [10],
    maxParkSeconds: 3600,
    maxSendAttempts: 3,
    reconnectSkewMs: 300_000,
    now: () => NOW,
    random: () => 0.5,
    messages,
    events: {
      publish: async (e) => {
        publishCalls.push(e.length);
        events.push(...e);
      },
    },
  });
  return { service, messages, sent, parked, dead, events, publishCalls };
};

const template = { messaging_product: 'whatsapp', to: '15551234567', type: 'template', template: { name: 'order_update', language: { code: 'en' } } };
const record = (id: string, extra: Record<string, unknown> = {}, fromDelayQueue = false): OutboundRecord => ({
  id,
  body: JSON.stringify({ messageId: id, wabaId: 'w', phoneNumberId: 'pn', payload: { messaging_product: 'whatsapp', to: '15551234567', type: 'text', text: { body: 'hi' } }, ...extra }),
  attributes: fromDelayQueue ? { 'relay-park-count': '1', 'relay-first-parked-at': new Date(NOW - 5000).toISOString() } : {},
  fromDelayQueue,
});
const dl = (m: QueueMessage | undefined) => JSON.parse(String(m?.body));

describe('consumer send path: correlation, outcomes, window closed', () => {
  it('publishes the relay events of a batch together: ten sent messages, one publish (one SNS PublishBatch)', async () => {
    const { service, events, publishCalls } = await setup({ m3: WINDOW_CLOSED });
    await service.processBatch(Array.from({ length: 10 }, (_, i) => record(`m${i}`)));
    expect(events.filter((e) => e.type === 'message.sent')).toHaveLength(9);
    expect(events.filter((e) => e.type === 'message.dead_lettered')).toHaveLength(1);
    expect(publishCalls).toEqual([10]);
  });

  it("sets the relay's callback data, publishes message.sent, and records no wamid item when statuses will carry the data", async () => {
    const { service, messages, sent, events } = await setup();
    await service.processBatch([record('m1')]);
    expect(decodeCallbackData(sent[0]?.payload.biz_opaque_callback_data as string, 'w')).toEqual({ wabaId: 'w', messageId: 'm1' });
    expect(events).toEqual([expect.objectContaining({ type: 'message.sent', wabaId: 'w', messageId: 'm1', wamid: 'wamid.1' })]);
    expect(await messages.findByWamid(['wamid.1'])).toEqual(new Map());
    // The ledger's accepted send is the outcome until a status says more.
    expect(await readMessageView(messages, { wabaId: 'w', messageId: 'm1' })).toMatchObject({ outcome: 'sent', wamid: 'wamid.1', send: { state: 'SENT' } });
  });

  it("keeps the sender's own callback data and records the wamid against the message instead", async () => {
    const { service, messages, sent } = await setup();
    await service.processBatch([record('m2', { payload: { messaging_product: 'whatsapp', to: '1', type: 'text', biz_opaque_callback_data: 'crm-7' } })]);
    expect(sent[0]?.payload.biz_opaque_callback_data).toBe('crm-7');
    expect(await messages.findByWamid(['wamid.1'])).toEqual(new Map([['wamid.1', { wabaId: 'w', messageId: 'm2' }]]));
  });

  it('synchronous 131047 without a fallback: dead-lettered window-closed, outcome dead-lettered', async () => {
    const { service, messages, dead, events } = await setup({ m3: WINDOW_CLOSED });
    expect((await service.processBatch([record('m3')])).failedIds).toEqual([]);
    expect(dl(dead[0])).toMatchObject({ reason: 'window-closed', cloudApiError: { code: 131047 } });
    expect(await readMessageView(messages, { wabaId: 'w', messageId: 'm3' })).toMatchObject({ outcome: 'dead-lettered', reason: 'window-closed' });
    expect(events.map((e) => [e.type, e.detail.reason])).toEqual([['message.dead_lettered', 'window-closed']]);
  });

  it('synchronous 131047 with a fallback: the fallback goes once as <messageId>:fallback, the original fails window-closed', async () => {
    const { service, messages, sent, dead, events } = await setup({ m4: WINDOW_CLOSED });
    const r = record('m4', { fallback: template });
    expect((await service.processBatch([r])).failedIds).toEqual([]);
    expect(sent.map((s) => s.messageId)).toEqual(['m4', 'm4:fallback']);
    expect(sent[1]?.payload).toMatchObject({ type: 'template', template: { name: 'order_update' } });
    expect(dead).toEqual([]);
    const view = await readMessageView(messages, { wabaId: 'w', messageId: 'm4' });
    expect(view).toMatchObject({ outcome: 'failed', reason: 'window-closed', fallback: { messageId: 'm4:fallback', outcome: 'sent', wamid: 'wamid.1' } });
    expect(events.map((e) => [e.type, e.messageId])).toEqual([
      ['message.failed', 'm4'],
      ['message.sent', 'm4:fallback'],
    ]);
    // SQS delivers the original again: it was replaced by its fallback (final), so nothing is sent a second time.
    expect((await service.processBatch([r])).failedIds).toEqual([]);
    expect(sent.map((s) => s.messageId)).toEqual(['m4', 'm4:fallback']);
    expect((await messages.read({ wabaId: 'w', messageId: 'm4' }))?.ledger?.state).toBe('REPLACED_BY_FALLBACK');
  });

  it('an accepted message with a fallback keeps the fallback for an asynchronous 131047', async () => {
    const { service, messages } = await setup();
    await service.processBatch([record('m5', { fallback: template })]);
    expect((await messages.read({ wabaId: 'w', messageId: 'm5' }))?.fallback).toEqual({ phoneNumberId: 'pn', payload: template });
  });

  it('records parked on the first park only, with message.parked', async () => {
    const { service, messages, parked, events } = await setup({}, true);
    await service.processBatch([record('m6')]);
    expect(parked).toHaveLength(1);
    await service.processBatch([record('m6', {}, true)]);
    expect(parked).toHaveLength(2);
    expect(events.map((e) => e.type)).toEqual(['message.parked']);
    expect(await readMessageView(messages, { wabaId: 'w', messageId: 'm6' })).toMatchObject({ outcome: 'parked', send: null });
  });
});
