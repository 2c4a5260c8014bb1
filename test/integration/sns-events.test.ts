import { randomUUID } from 'node:crypto';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { RelayEventPublishError, SNS_MAX_PAYLOAD_BYTES, SnsRelayEventPublisher, relayEventPublisher } from '../../lambdas/adapters/sns-events.js';
import { type PublishBatchAnswer, type PublishEntry, SdkSnsBatchSender, type SnsBatchSender } from '../../lambdas/adapters/sns-batch.js';
import { noRelayEvents } from '../../lambdas/core/outcomes/ports.js';
import { parseRelayEvent } from '../../lambdas/core/outcomes/relay-event-schema.js';
import { clientStatusChanged, type RelayEvent, relayEvent } from '../../lambdas/core/outcomes/relay-events.js';
import { ensureQueue, ensureTopic, localSns, localSqs, subscribeQueue } from '../../local/services.js';
import { takeAll } from '../support/aws.js';
import { RecordingTelemetry } from '../support/telemetry.js';

let sns: SNSClient;
/** The production sender (@aws-sdk/client-sns PublishBatch) against the emulator. */
let publisher: SdkSnsBatchSender;
let sqs: SQSClient;
let topicArn: string;
let all: string;
let statusOnly: string;

beforeAll(async () => {
  const endpoint = inject('sqsEndpoint');
  sns = localSns(endpoint);
  sqs = localSqs(endpoint);
  publisher = new SdkSnsBatchSender(sns);
  const suffix = randomUUID().slice(0, 8);
  topicArn = await ensureTopic(sns, `relay-events-${suffix}`);
  all = await ensureQueue(sqs, { name: `events-all-${suffix}` });
  statusOnly = await ensureQueue(sqs, { name: `events-status-${suffix}` });
  await subscribeQueue(sns, sqs, topicArn, all);
  await subscribeQueue(sns, sqs, topicArn, statusOnly, { type: ['client.status_changed'] });
});

afterAll(() => {
  sns.destroy();
  sqs.destroy();
});

const T = Date.UTC(2026, 0, 10, 12);
const statusEvent = (wabaId: string, n = 0) =>
  clientStatusChanged(wabaId, { eventId: `evt-${n}`, event: 'ACCOUNT_OFFBOARDED', eventTimeMs: T + n, from: 'CONNECTED', to: 'OFFBOARDED' });
const sentEvent = (wabaId: string, messageId: string, detail: Record<string, unknown> = {}) =>
  relayEvent('message.sent', { time: T, wabaId, messageId, wamid: `wamid.${messageId}` }, [wabaId, messageId], { outcome: 'sent', source: 'relay', ...detail });

const bodies = (messages: readonly Message[]) => messages.map((m) => parseRelayEvent(m.Body ?? ''));

/** Counts PublishBatch requests and lets a test refuse entries (as SNS's `Failed[]`) before they reach SNS. */
class FaultySns implements SnsBatchSender {
  requests = 0;
  entriesSent = 0;
  constructor(
    private readonly inner: SnsBatchSender,
    /** Entry ids to report as failed on the nth request (0-based), without sending them. */
    private readonly failOn: (request: number, entryId: string) => { code: string; senderFault: boolean } | null = () => null,
  ) {}
  async publishBatch(topicArn: string, entries: readonly PublishEntry[]): Promise<PublishBatchAnswer> {
    const n = this.requests++;
    this.entriesSent += entries.length;
    const refused = entries.flatMap((e) => {
      const f = this.failOn(n, e.Id);
      return f ? [{ id: e.Id, code: f.code, senderFault: f.senderFault, message: 'injected' }] : [];
    });
    const kept = entries.filter((e) => !refused.some((r) => r.id === e.Id));
    const out = kept.length > 0 ? await this.inner.publishBatch(topicArn, kept) : { successful: [], failed: [] };
    return { successful: out.successful, failed: [...out.failed, ...refused] };
  }
}

describe('SnsRelayEventPublisher against the emulator', () => {
  it('publishes each event once as its JSON, with the type and wabaId attributes; a type filter receives only its type', async () => {
    const waba = '900000000000001';
    const events = [statusEvent(waba), sentEvent(waba, 'm-1', { text: 'héllo 🎉' }), statusEvent(waba)]; // the status event twice: one fact
    const faulty = new FaultySns(publisher);
    await new SnsRelayEventPublisher(faulty, topicArn).publish(events);
    expect(faulty.requests).toBe(1);
    expect(faulty.entriesSent).toBe(2);

    const got = await takeAll(sqs, all);
    expect(bodies(got).sort((a, b) => a.type.localeCompare(b.type))).toEqual([events[0], events[1]]);
    // Non-ASCII arrives escaped in the body, and JSON.parse gives the characters back.
    expect(got.every((m) => /^[\x20-\x7e]*$/.test(m.Body ?? ''))).toBe(true);
    for (const m of got) {
      expect(m.MessageAttributes?.type?.StringValue).toBe(parseRelayEvent(m.Body ?? '').type);
      expect(m.MessageAttributes?.wabaId?.StringValue).toBe(waba);
    }
    expect(bodies(await takeAll(sqs, statusOnly))).toEqual([events[0]]);
  });

  it('batches by ten: 25 events take 3 requests', async () => {
    const waba = '900000000000002';
    const events = Array.from({ length: 25 }, (_, i) => sentEvent(waba, `m-${i}`));
    const faulty = new FaultySns(publisher);
    await new SnsRelayEventPublisher(faulty, topicArn).publish(events);
    expect(faulty.requests).toBe(3);
    expect(new Set(bodies(await takeAll(sqs, all)).map((e) => e.id))).toEqual(new Set(events.map((e) => e.id)));
    expect(await takeAll(sqs, statusOnly)).toEqual([]);
  });

  it('splits batches that would pass 256 KiB and truncates the detail of an event too large for SNS', async () => {
    const waba = '900000000000003';
    const big = 'x'.repeat(100_000);
    const events = [sentEvent(waba, 'b-1', { big }), sentEvent(waba, 'b-2', { big }), sentEvent(waba, 'b-3', { big }), sentEvent(waba, 'huge', { big: big.repeat(3) })];
    const faulty = new FaultySns(publisher);
    await new SnsRelayEventPublisher(faulty, topicArn).publish(events);
    expect(faulty.requests).toBe(2); // three 100 KB events do not fit one batch: [b-1, b-2], [b-3, huge truncated to ~16 KiB]
    const got = bodies(await takeAll(sqs, all));
    expect(got).toHaveLength(4);
    const huge = got.find((e) => e.messageId === 'huge');
    expect(huge?.detail).toMatchObject({ truncated: { originalBytes: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(JSON.stringify(huge).length).toBeLessThan(SNS_MAX_PAYLOAD_BYTES);
  });

  it('sends entries SNS reports as failed again, and succeeds when a retry is accepted', async () => {
    const waba = '900000000000004';
    const events = [sentEvent(waba, 'r-1'), sentEvent(waba, 'r-2'), sentEvent(waba, 'r-3')];
    // The first request refuses the second entry (a transient, service-side failure).
    const faulty = new FaultySns(publisher, (n, id) => (n === 0 && id === 'e1' ? { code: 'InternalError', senderFault: false } : null));
    const delays: number[] = [];
    const telemetry = new RecordingTelemetry();
    await new SnsRelayEventPublisher(faulty, topicArn, { telemetry, sleep: async (ms) => void delays.push(ms) }).publish(events);
    expect(faulty.requests).toBe(2);
    expect(faulty.entriesSent).toBe(4);
    expect(delays).toEqual([100]);
    expect(telemetry.get('RelayEventPublishFailures')).toBe(0);
    expect(bodies(await takeAll(sqs, all)).map((e) => e.messageId).sort()).toEqual(['r-1', 'r-2', 'r-3']);
  });

  it('gives up after the bounded tries: throws naming the events, counts RelayEventPublishFailures, logs no payload', async () => {
    const waba = '900000000000005';
    const events = [sentEvent(waba, 's-1', { secret: 'do-not-log' }), sentEvent(waba, 's-2', { secret: 'do-not-log' })];
    const faulty = new FaultySns(publisher, (_n, id) => (id === 'e0' ? { code: 'Throttled', senderFault: false } : null));
    const telemetry = new RecordingTelemetry();
    const relay = new SnsRelayEventPublisher(faulty, topicArn, { telemetry, maxAttempts: 3, sleep: async () => undefined });
    const error = await relay.publish(events).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RelayEventPublishError);
    expect((error as RelayEventPublishError).failedEventIds).toEqual([events[0]?.id]);
    expect((error as Error).message).toContain('1 of 2 relay events not published');
    expect(faulty.requests).toBe(3);
    expect(telemetry.get('RelayEventPublishFailures')).toBe(1);
    expect(JSON.stringify(telemetry.logs)).not.toContain('do-not-log');
    expect(JSON.stringify(telemetry.logs)).toContain('Throttled');
    // The accepted one went out once; the refused one never did (the caller's retry publishes it again).
    expect(bodies(await takeAll(sqs, all)).map((e) => e.messageId)).toEqual(['s-2']);
  });

  it('does not retry what is the sender’s fault, nor a request SNS refuses (missing topic)', async () => {
    const waba = '900000000000006';
    const faulty = new FaultySns(publisher, () => ({ code: 'InvalidParameter', senderFault: true }));
    await expect(new SnsRelayEventPublisher(faulty, topicArn, { sleep: async () => undefined }).publish([sentEvent(waba, 'f-1')])).rejects.toThrow(
      RelayEventPublishError,
    );
    expect(faulty.requests).toBe(1);

    const missing = new FaultySns(publisher);
    const telemetry = new RecordingTelemetry();
    const gone = topicArn.replace(/[^:]+$/, 'no-such-topic');
    await expect(new SnsRelayEventPublisher(missing, gone, { telemetry, sleep: async () => undefined }).publish([sentEvent(waba, 'f-2')])).rejects.toThrow(
      /1 of 1 relay events not published: .*NotFound/,
    );
    expect(missing.requests).toBe(1);
    expect(telemetry.get('RelayEventPublishFailures')).toBe(1);
  });

  it('publishes nothing for no events, and nothing at all without a topic', async () => {
    const faulty = new FaultySns(publisher);
    await new SnsRelayEventPublisher(faulty, topicArn).publish([]);
    expect(faulty.requests).toBe(0);
    let built = 0;
    const telemetry = new RecordingTelemetry();
    expect(relayEventPublisher(undefined, () => { built++; return faulty; }, telemetry)).toBe(noRelayEvents);
    expect(built).toBe(0);
    expect(relayEventPublisher(topicArn, () => faulty, telemetry)).toBeInstanceOf(SnsRelayEventPublisher);
  });
});

describe('relay event schema', () => {
  it('accepts what the relay publishes and refuses what is not an event, with the reason', () => {
    const e: RelayEvent = statusEvent('1');
    expect(parseRelayEvent(JSON.stringify(e))).toEqual(e);
    expect(() => parseRelayEvent('not json')).toThrow('body is not JSON');
    expect(() => parseRelayEvent(JSON.stringify({ ...e, type: 'client.renamed' }))).toThrow(/relay event: type/);
    expect(() => parseRelayEvent(JSON.stringify({ ...e, detail: { ...e.detail, to: 'GONE' } }))).toThrow(/detail\.to/);
    expect(() => parseRelayEvent(JSON.stringify({ ...e, time: 'yesterday' }))).toThrow(/time/);
  });
});
