import { dynamoOutboundStores } from '../support/outbound-stores.js';
import { createHash } from 'node:crypto';
import { GetQueueAttributesCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { fc, test } from '@fast-check/vitest';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { HttpCloudApi, SecretTokenProvider } from '../../lambdas/adapters/cloud-api.js';
import { DynamoPhoneOwnership } from '../../lambdas/adapters/dynamo/phone-ownership.js';
import { isQueueArnOf, SqsOutboundQueues } from '../../lambdas/adapters/sqs.js';
import { orderKeyOf, type StatusClass } from '../../lambdas/core/status/client-status.js';
import { attributeBytes, type DeadLetterBody } from '../../lambdas/core/outbound/dead-letter.js';
import { parseEnvelope } from '../../lambdas/core/outbound/envelope.js';
import { DEAD_LETTER_REASONS } from '../../lambdas/core/outbound/outbound-decision.js';
import { OutboundService } from '../../lambdas/core/outbound/outbound-service.js';
import { isSqsSafe, SQS_MAX_MESSAGE_BYTES, toSqsJson } from '../../lambdas/core/shared/sqs-body.js';
import { createConsumerHandler } from '../../lambdas/consumer/handler.js';
import { accepted, CloudApiStandIn, metaError } from '../../local/cloud-api-stand-in.js';
import { ensureQueue } from '../../local/services.js';
import { pollOnce } from '../../local/sqs-event-source.js';
import { drain, localResources } from '../support/aws.js';
import { propertyRuns } from '../support/property.js';
import { RecordingReleases } from '../support/release.js';
import { RecordingTelemetry } from '../support/telemetry.js';

/**
 * Envelope fuzz: arbitrary bodies and attributes, on the outbound or the delay queue, through the real consumer,
 * DynamoDB Local, fauxqs and the Cloud API stand-in. Every record must end sent (or acknowledged as a duplicate of a
 * sent message), or dead-lettered with a known reason in a body SQS accepted; nothing is left on a queue after a
 * bounded number of rounds (parked messages expire by MAX_PARK_SECONDS on a clock that jumps 15 minutes a batch,
 * retries end by MAX_SEND_ATTEMPTS). `FC_NUM_RUNS` raises the number of cases.
 */
const MAX_PARK_SECONDS = 3600;
const CLOCK_STEP_MS = 900_000;
const MAX_ROUNDS_MS = 60_000;
const WABA = { connected: 'fz-connected', offboarded: 'fz-offboarded', removed: 'fz-removed', noToken: 'fz-no-token' } as const;
const PHONES = ['fz-pn-connected', 'fz-pn-offboarded', 'fz-pn-new', 'fz-pn-other'] as const;
/** Owners taught before the cases run (sends teach owners of the other numbers as the cases go). */
const OWNERS: Readonly<Record<string, string>> = { 'fz-pn-connected': WABA.connected, 'fz-pn-offboarded': WABA.offboarded };
type ApiScript = 'accept' | 'reject' | 'transient-once' | 'transient-always' | 'not-connected';

let env: Awaited<ReturnType<typeof localResources>>;
let api: CloudApiStandIn;
let queues: { outbound: string; delay: string; dlq: string };
let clock = Date.now();
const scripts = new Map<string, { script: ApiScript; calls: number }>();
const acceptedTags = new Set<string>();

beforeAll(async () => {
  env = await localResources([]);
  // Short visibility: a record the consumer returns (an in-batch duplicate whose twin was not sent) is back in 2 s.
  const q = (name: string) => ensureQueue(env.sqs, { name: `${name}-fuzz-${env.tableName}`, visibilityTimeoutSeconds: 2 });
  queues = { outbound: await q('outbound'), delay: await q('delay'), dlq: await q('dlq') };
  api = await new CloudApiStandIn().start();
  api.respond = (req) => {
    const to = String(req.body.to);
    const s = scripts.get(to);
    const n = s ? ++s.calls : 1;
    const reply =
      s?.script === 'reject'
        ? metaError(400, 131026, 'Message undeliverable')
        : s?.script === 'transient-always' || (s?.script === 'transient-once' && n === 1)
          ? metaError(503, 131000, 'Something went wrong')
          : s?.script === 'not-connected'
            ? metaError(400, 133010, 'Account not registered')
            : accepted(to);
    if (reply !== 'hang' && reply.status < 300) acceptedTags.add(to);
    return reply;
  };
  const at = Date.now() - 60_000;
  const status = (wabaId: string, cls: StatusClass, event: string) =>
    env.store.applyStatusEvent(wabaId, cls, { orderKey: orderKeyOf(at, event), event, eventId: event, eventTimeMs: at, appliedAt: new Date(at).toISOString() });
  await status(WABA.offboarded, 'OFFBOARDED', 'ACCOUNT_OFFBOARDED');
  await status(WABA.removed, 'REMOVED', 'PARTNER_REMOVED');
  const phones = new DynamoPhoneOwnership(env.doc, env.tableName);
  for (const [phone, waba] of Object.entries(OWNERS)) await phones.learn(phone, waba, 'webhook', at);
});

afterAll(async () => {
  await api?.stop();
});

const telemetry = new RecordingTelemetry();
const service = () =>
  new OutboundService({
    ...dynamoOutboundStores(env.doc, env.tableName, { leaseMs: 2_000, retentionDays: 1 }),
    releases: new RecordingReleases(),
    queues: new SqsOutboundQueues(env.sqs, queues.delay, queues.dlq),
    cloudApi: new HttpCloudApi(api.url, 'v25.0', 2_000),
    // Every client has its own token but one; there is no default.
    tokens: new SecretTokenProvider(async () =>
      JSON.stringify({ byWaba: { [WABA.connected]: 't1', [WABA.offboarded]: 't2', [WABA.removed]: 't3' } }),
    ),
    telemetry,
    parkDelaySchedule: [0],
    maxParkSeconds: MAX_PARK_SECONDS,
    maxSendAttempts: 2,
    reconnectSkewMs: 300_000,
    // A clock that jumps 15 minutes per batch: parked messages reach MAX_PARK_SECONDS within a few rounds.
    now: () => {
      clock += CLOCK_STEP_MS;
      return clock;
    },
    random: () => 0,
  });

/** Characters SQS and fauxqs accept in a body or attribute, with the awkward ones well represented. */
const sqsChar = fc.oneof(
  fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }),
  fc.constantFrom('\t', '\n', '\r', '"', '\\', '\u007f', 'é', '\u2028', '\ufffd', '中', '{', '}'),
);
const sqsText = (maxLength: number, minLength = 0) => fc.string({ unit: sqsChar, minLength, maxLength });

interface Spec {
  readonly queue: 'outbound' | 'delay';
  readonly attributes: Record<string, string>;
  /** For an envelope: its tag (payload.to) and identity; the body is built from it. */
  readonly envelope?: { waba: string; phone: string; msg: number; text: string; notAfter: 'past' | 'future' | null; metadata: unknown; script: ApiScript };
  readonly raw?: string;
}

const envelopeSpec = fc.record({
  waba: fc.constantFrom(...Object.values(WABA)),
  phone: fc.constantFrom(...PHONES),
  msg: fc.integer({ min: 0, max: 2 }),
  text: fc.string({ unit: 'binary', maxLength: 40 }),
  notAfter: fc.constantFrom('past' as const, 'future' as const, null),
  metadata: fc.option(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }), { nil: undefined }),
  script: fc.constantFrom<ApiScript>('accept', 'accept', 'reject', 'transient-once', 'transient-always', 'not-connected'),
});

const rawBody = fc.oneof(
  { weight: 4, arbitrary: sqsText(200) },
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => toSqsJson(v)) },
  { weight: 2, arbitrary: envelopeSpec.map((e) => toSqsJson({ messageId: 'x', wabaId: e.waba, phoneNumberId: e.phone, payload: { messaging_product: 'whatsapp', to: 'x' }, extra: e.text })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 70_000 }).map((n) => '\\"'.repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 128 * 1024, max: 1_040_000 }).map((n) => `{"messageId":"${'x'.repeat(n)}"}`) },
);

const iso = (ms: number) => new Date(ms).toISOString();
const attributeValue = fc.oneof(
  fc.nat({ max: 20 }).map(String),
  fc.constantFrom('-1', '1e9', '99', 'NaN'),
  fc.constantFrom(iso(0), '2999-01-01T00:00:00.000Z', 'yesterday'),
  sqsText(30, 1),
);
const attributes = fc.record(
  { 'relay-park-count': attributeValue, 'relay-first-parked-at': attributeValue, 'relay-send-attempts': attributeValue },
  { requiredKeys: [] },
);

const spec: fc.Arbitrary<Spec> = fc.record({
  queue: fc.constantFrom('outbound' as const, 'delay' as const),
  attributes,
  body: fc.oneof({ weight: 3, arbitrary: envelopeSpec.map((e) => ({ envelope: e })) }, { weight: 2, arbitrary: rawBody.map((raw) => ({ raw })) }),
}).map(({ queue, attributes: a, body }) => ({ queue, attributes: a as Record<string, string>, ...body }));

let caseNo = 0;

/** Polls both queues until nothing is visible, delayed or in flight; fails when that takes longer than a bound. */
const runToQuiescence = async (handler: ReturnType<typeof createConsumerHandler>) => {
  const deadline = Date.now() + MAX_ROUNDS_MS;
  for (;;) {
    const got = [await pollOnce(env.sqs, queues.outbound, handler, { waitTimeSeconds: 0 }), await pollOnce(env.sqs, queues.delay, handler, { waitTimeSeconds: 0 })];
    if (got.every((g) => g.received === 0)) {
      const left = await Promise.all(
        [queues.outbound, queues.delay].map(async (url) => {
          const a = (
            await env.sqs.send(
              new GetQueueAttributesCommand({
                QueueUrl: url,
                AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
              }),
            )
          ).Attributes;
          return Number(a?.ApproximateNumberOfMessages ?? 0) + Number(a?.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(a?.ApproximateNumberOfMessagesDelayed ?? 0);
        }),
      );
      if (left.every((n) => n === 0)) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    if (Date.now() > deadline) throw new Error('records still on the queues after the bound: something loops');
  }
};

describe('envelope fuzz (real consumer, DynamoDB Local, fauxqs, Cloud API stand-in)', () => {
  test.prop([fc.array(spec, { minLength: 1, maxLength: 8 })], { numRuns: propertyRuns(8), endOnFailure: true })(
    'every record ends sent or dead-lettered with a known reason, and nothing loops',
    async (specs) => {
      const run = `c${++caseNo}-${Math.random().toString(36).slice(2, 8)}`;
      const handler = createConsumerHandler(async () => service(), telemetry, (arn) => isQueueArnOf(arn, queues.delay));
      const records = specs.map((s, i) => {
        if (!s.envelope) return { ...s, body: s.raw as string, tag: null, key: null };
        const e = s.envelope;
        const tag = `${run}-${i}`;
        scripts.set(tag, { script: e.script, calls: 0 });
        const envelope = {
          messageId: `${run}-m${e.msg}`,
          wabaId: e.waba,
          phoneNumberId: e.phone,
          payload: { messaging_product: 'whatsapp', to: tag, type: 'text', text: { body: e.text } },
          ...(e.notAfter ? { notAfter: iso(e.notAfter === 'past' ? Date.now() - 86_400_000 : Date.now() + 365 * 86_400_000) } : {}),
          ...(e.metadata !== undefined ? { metadata: e.metadata } : {}),
        };
        return { ...s, body: toSqsJson(envelope), tag, key: `${e.waba}/${envelope.messageId}` };
      });
      for (const [i, r] of records.entries()) {
        const attrs = Object.entries(r.attributes).map(([k, v]) => [k, { DataType: 'String', StringValue: v }] as const);
        await env.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: r.queue === 'outbound' ? queues.outbound : queues.delay,
            Entries: [{ Id: String(i), MessageBody: r.body, ...(attrs.length > 0 ? { MessageAttributes: Object.fromEntries(attrs) } : {}) }],
          }),
        );
      }

      await runToQuiescence(handler);

      const dlqMessages = await drain(env.sqs, queues.dlq, 40);
      const dead = dlqMessages.map((m) => {
        const body = m.Body ?? '';
        const attrs = Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue ?? '']));
        // Written by the relay: ASCII, within one SQS message, a known reason.
        expect(isSqsSafe(body)).toBe(true);
        expect(body.length + attributeBytes(attrs)).toBeLessThanOrEqual(SQS_MAX_MESSAGE_BYTES);
        const parsed = JSON.parse(body) as DeadLetterBody;
        expect(DEAD_LETTER_REASONS).toContain(parsed.reason);
        expect(attrs.reason).toBe(parsed.reason);
        return parsed;
      });
      expect(dead.length).toBeLessThanOrEqual(records.length);

      // Sent at most once per (wabaId, messageId).
      const sentKeys = new Map<string, number>();
      for (const r of records) if (r.tag && r.key && acceptedTags.has(r.tag)) sentKeys.set(r.key, (sentKeys.get(r.key) ?? 0) + 1);
      for (const n of sentKeys.values()) expect(n).toBe(1);

      const unmatched = [...dead];
      const take = (match: (d: DeadLetterBody) => boolean): DeadLetterBody | undefined => {
        const i = unmatched.findIndex(match);
        return i < 0 ? undefined : unmatched.splice(i, 1)[0];
      };
      // A message is final once sent or dead-lettered: a later copy of it (same key) is acknowledged, never acted on.
      const deadKeys = new Set<string>();
      const acknowledged: { tag: string; key: string }[] = [];
      for (const r of records) {
        if (r.tag) {
          const sent = acceptedTags.has(r.tag);
          const dl = take((d) => typeof d.envelope === 'object' && d.envelope.payload.to === r.tag);
          if (dl && r.key) deadKeys.add(r.key);
          if (sent) expect(dl, `record ${r.tag} was sent and dead-lettered`).toBeUndefined();
          else if (!dl) acknowledged.push({ tag: r.tag, key: r.key as string });
          // A phone number known to belong to another WABA is never sent from: always dead-lettered as a mismatch.
          const owner = OWNERS[r.envelope?.phone as string];
          if (owner !== undefined && owner !== r.envelope?.waba) {
            expect(sent).toBe(false);
            if (dl) expect(dl.reason).toBe('phone-number-mismatch');
          }
          if (dl && r.envelope?.waba === WABA.noToken) expect(['no-access-token', 'phone-number-mismatch', 'expired']).toContain(dl.reason);
        } else {
          const sha = createHash('sha256').update(r.body, 'utf8').digest('hex');
          const parsed = parseEnvelope(r.body);
          expect(parsed.ok).toBe(false);
          const dl = take((d) => d.envelope === r.body || d.truncated?.sha256 === sha);
          expect(dl, 'an invalid body was not dead-lettered').toMatchObject({ reason: 'invalid-envelope' });
        }
      }
      expect(unmatched).toEqual([]);
      for (const a of acknowledged) {
        expect(sentKeys.has(a.key) || deadKeys.has(a.key), `record ${a.tag} neither sent, dead-lettered, nor a copy of a message that was`).toBe(true);
      }
    },
    300_000,
  );
});
