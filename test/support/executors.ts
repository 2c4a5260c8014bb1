/**
 * Both executors of the send policy, wired by their own compose() from configuration, on one table and real queues
 * (DynamoDB Local, fauxqs) and the Cloud API stand-in: what the lifecycle, findings and contract tests drive.
 */
import { randomUUID } from 'node:crypto';
import { SecretTokenProvider } from '../../lambdas/adapters/cloud-api.js';
import { DynamoClientHealthStore } from '../../lambdas/adapters/dynamo/client-health-store.js';
import { DynamoPhoneOwnership } from '../../lambdas/adapters/dynamo/phone-ownership.js';
import { DynamoParkedStore } from '../../lambdas/adapters/dynamo/release-stores.js';
import { DynamoMessageOutcomeStore } from '../../lambdas/adapters/dynamo/message-outcome-store.js';
import { composeConsumer } from '../../lambdas/consumer/compose.js';
import { loadConsumerConfig } from '../../lambdas/consumer/config.js';
import { composeReleaser } from '../../lambdas/releaser/compose.js';
import { loadReleaserConfig } from '../../lambdas/releaser/config.js';
import { orderKeyOf, type StatusClass } from '../../lambdas/core/status/client-status.js';
import { type OutboundEnvelope, recipientOf } from '../../lambdas/core/outbound/envelope.js';
import type { OutboundRecord } from '../../lambdas/core/outbound/outbound-service.js';
import { noRelayEvents } from '../../lambdas/core/outcomes/ports.js';
import { parkedOrderKey } from '../../lambdas/core/release/release-rules.js';
import type { CloudApiStandIn } from '../../local/cloud-api-stand-in.js';
import { drain, localResources, takeAll } from './aws.js';
import { RecordingTelemetry } from './telemetry.js';

export type Executors = Awaited<ReturnType<typeof executors>>;

export const executors = async (api: CloudApiStandIn, settings: Readonly<Record<string, string>> = {}) => {
  const env = await localResources(['delay', 'dlq', 'release']);
  const vars = {
    AWS_ENDPOINT_URL_DYNAMODB: env.dynamoEndpoint,
    AWS_ENDPOINT_URL_SQS: env.sqsEndpoint,
    TABLE_NAME: env.tableName,
    DELAY_QUEUE_URL: env.queues.delay as string,
    DEAD_LETTER_QUEUE_URL: env.queues.dlq as string,
    RELEASE_QUEUE_URL: env.queues.release as string,
    GRAPH_API_BASE_URL: api.url,
    GRAPH_API_TIMEOUT_MS: '2000',
    WHATSAPP_ACCESS_TOKEN: 'relay-token',
    RECONNECT_SKEW_SECONDS: '0',
    // Parks hop at once: a test's `hop()` is the moment a delay-queue copy comes back.
    PARK_DELAY_SCHEDULE: '0',
    ...settings,
  };
  const telemetry = new RecordingTelemetry();
  const clients = { doc: env.doc, sqs: env.sqs, tokens: new SecretTokenProvider(async () => 'relay-token'), telemetry, events: noRelayEvents };
  const consumer = composeConsumer(loadConsumerConfig(vars), clients);
  const releaser = composeReleaser({ ...loadReleaserConfig(vars), releaseRatePerSecond: 80 }, clients);
  const parked = new DynamoParkedStore(env.doc, env.tableName);
  const health = new DynamoClientHealthStore(env.doc, env.tableName);
  const phones = new DynamoPhoneOwnership(env.doc, env.tableName);
  const messages = new DynamoMessageOutcomeStore(env.doc, env.tableName, 1);
  // Meta's event times: in the past, one second apart, so evidence the relay writes now (holds, probes) is later.
  let clock = Math.floor(Date.now() / 1000) - 3_600;
  /** Distinct event times in order: every status event is later than the one before. */
  const nextSecond = () => ++clock;

  const x = {
    env,
    telemetry,
    consumer,
    releaser,
    parked,
    health,
    phones,
    messages,
    uid: (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`,
    /** A status event from Meta (what the webhook writes for an account_update). */
    status: async (wabaId: string, cls: StatusClass) => {
      const s = nextSecond();
      const eventId = `${cls}-${s}`;
      const event = { OFFBOARDED: 'ACCOUNT_OFFBOARDED', RECONNECTED: 'ACCOUNT_RECONNECTED', REMOVED: 'PARTNER_REMOVED', DISABLED: 'DISABLED_UPDATE', DELETED: 'ACCOUNT_DELETED', CONNECTED: 'PARTNER_ADDED' }[cls];
      await env.store.applyStatusEvent(wabaId, cls, { orderKey: orderKeyOf(s * 1000, eventId), event, eventId, eventTimeMs: s * 1000, appliedAt: new Date().toISOString() });
    },
    /** An ACCOUNT_RESTRICTION in force until `untilMs`. */
    restrict: async (wabaId: string, type: string, untilMs: number) => {
      const s = nextSecond();
      await env.store.applyRestriction(wabaId, { orderKey: orderKeyOf(s * 1000, `r-${s}`), eventId: `r-${s}`, eventTimeMs: s * 1000, appliedAt: new Date().toISOString(), restrictions: [{ type, expiresAtMs: untilMs }] });
    },
    /** A hold in force (the relay's own evidence), started now. */
    hold: async (wabaId: string, phoneNumberId: string) => {
      await health.tripHold(wabaId, { holdId: `h-${randomUUID()}`, startedAtMs: Date.now(), code: '133010', why: 'refused', phoneNumberId, messageId: 'x' }, null);
    },
    /** A probe that said the number can send, now. */
    canSend: async (wabaId: string, phoneNumberId: string) => {
      await health.recordProbe(wabaId, { atMs: Date.now(), verdict: 'can-send', detail: 'ok', phoneNumberId, reason: 'stale-offboarding' });
    },
    envelope: (wabaId: string, phoneNumberId: string, extra: Partial<OutboundEnvelope> = {}, type: 'text' | 'template' = 'text'): OutboundEnvelope => {
      const messageId = x.uid('m');
      const payload =
        type === 'template'
          ? { messaging_product: 'whatsapp' as const, to: '15550001111', type: 'template', template: { name: messageId, language: { code: 'en' } } }
          : { messaging_product: 'whatsapp' as const, to: '15550001111', type: 'text', text: { body: messageId } };
      return { messageId, wabaId, phoneNumberId, payload, ...extra };
    },
    /** Upstream enqueues: the consumer takes the record from the outbound queue. */
    enqueue: async (...envelopes: OutboundEnvelope[]) => {
      const records: OutboundRecord[] = envelopes.map((e) => ({ id: x.uid('sqs'), body: JSON.stringify(e), attributes: {}, fromDelayQueue: false, sentTimestampMs: Date.now() }));
      return consumer.processBatch(records);
    },
    /**
     * Every message on the delay queue arrives (its hop ended), in one batch per 10: waits until none has come for
     * `quietMs` (a retry's backoff is at least a second).
     */
    hop: async (quietMs = 1_200) => {
      const waiting = [];
      for (let idle = 0; idle < quietMs; idle += 200) {
        const got = await takeAll(env.sqs, env.queues.delay as string);
        if (got.length > 0) idle = -200;
        waiting.push(...got);
        await new Promise((r) => setTimeout(r, 200));
      }
      const records: OutboundRecord[] = waiting.map((m) => ({
        id: m.MessageId ?? x.uid('sqs'),
        body: m.Body ?? '',
        attributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue])),
        fromDelayQueue: true,
      }));
      for (let i = 0; i < records.length; i += 10) await consumer.processBatch(records.slice(i, i + 10));
      return records.length;
    },
    /** A parked copy, as the consumer writes one, for the release to find. */
    park: async (e: OutboundEnvelope) => {
      const enqueuedMs = Date.now() - 10_000;
      await parked.put([
        {
          wabaId: e.wabaId,
          messageId: e.messageId,
          orderKey: parkedOrderKey(enqueuedMs, e.messageId, e.sequence),
          firstEnqueuedMs: enqueuedMs,
          firstParkedAt: new Date(enqueuedMs).toISOString(),
          phoneNumberId: e.phoneNumberId,
          recipient: recipientOf(e.payload),
          parkCount: 1,
          sendAttempts: 0,
          rateLimitHits: 0,
          body: JSON.stringify(e),
        },
      ]);
    },
    release: (wabaId: string, deadlineMs = Date.now() + 3_000) =>
      releaser.run({ wabaId, trigger: 'status-connected', requestedAt: new Date().toISOString() }, deadlineMs),
    /** Dead letters so far (taken off the queue), as parsed bodies. */
    deadLetters: async () => (await drain(env.sqs, env.queues.dlq as string)).map((m) => JSON.parse(m.Body ?? '{}') as { reason: string; envelope: { messageId?: string } }),
    /** Cloud API sends the stand-in received for a message. */
    callsFor: (e: OutboundEnvelope) => api.requests.filter((r) => r.phoneNumberId === e.phoneNumberId && JSON.stringify(r.body).includes(e.messageId)),
    ledgerState: async (e: OutboundEnvelope) => (await messages.read({ wabaId: e.wabaId, messageId: e.messageId }))?.ledger?.state ?? null,
    outcome: async (e: OutboundEnvelope) => {
      const r = await messages.read({ wabaId: e.wabaId, messageId: e.messageId });
      return r?.history ?? {};
    },
    copies: async (wabaId: string) => (await parked.summary(wabaId)).count,
  };
  return x;
};
