/**
 * One test per finding of the hostile run that asked for one send policy and one message lifecycle (issue 18). Each
 * drives the real consumer and releaser (composed from configuration) on DynamoDB Local and fauxqs against the Cloud
 * API stand-in, and fails on the code before the change.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RESTRICTION_TYPES } from '../../lambdas/core/health/client-health.js';
import { accepted, type CloudApiReply, type CloudApiRequest, CloudApiStandIn, metaError } from '../../local/cloud-api-stand-in.js';
import { executors, type Executors } from '../support/executors.js';

let api: CloudApiStandIn;
let x: Executors;
/** Per phone number: what the stand-in answers a send (default: accepted). */
const answers = new Map<string, (req: CloudApiRequest) => CloudApiReply>();

beforeAll(async () => {
  api = await new CloudApiStandIn().start();
  api.respond = (req) => answers.get(req.phoneNumberId)?.(req) ?? accepted(String(req.body.to));
  x = await executors(api);
});
afterAll(async () => {
  await api.stop();
});
beforeEach(async () => {
  answers.clear();
  await x.deadLetters(); // each test sees only its own
});

/** A client that was offboarded, has `envelopes` parked (written by the consumer), and is back. */
const parkedThenBack = async (n = 1, extra: Parameters<Executors['envelope']>[2] = {}, type: 'text' | 'template' = 'text') => {
  const wabaId = x.uid('w');
  const phone = x.uid('pn');
  await x.status(wabaId, 'OFFBOARDED');
  const envelopes = Array.from({ length: n }, () => x.envelope(wabaId, phone, extra, type));
  await x.enqueue(...envelopes);
  expect(await x.copies(wabaId)).toBe(n);
  await x.status(wabaId, 'RECONNECTED');
  return { wabaId, phone, envelopes };
};

describe('issue 18 findings: the release decides as the consumer does, and a final state is final', () => {
  it("1: a release never sends from a phone number the relay has learnt belongs to another WABA; it dead-letters it as the consumer does", async () => {
    const { phone, wabaId, envelopes } = await parkedThenBack();
    await x.phones.learn(phone, 'someone-else', 'webhook', Date.now());
    await x.release(wabaId);
    expect(x.callsFor(envelopes[0] as never)).toHaveLength(0);
    expect((await x.deadLetters()).map((d) => d.reason)).toEqual(['phone-number-mismatch']);
    expect(await x.ledgerState(envelopes[0] as never)).toBe('DEAD_LETTERED');
  });

  it('2: a release keeps a text an ACCOUNT_RESTRICTION holds parked, and sends the template beside it', async () => {
    const wabaId = x.uid('w');
    const phone = x.uid('pn');
    await x.restrict(wabaId, RESTRICTION_TYPES.customerInitiated, Date.now() + 2 * 3600_000);
    await x.status(wabaId, 'OFFBOARDED');
    const text = x.envelope(wabaId, phone);
    const t = x.envelope(wabaId, phone, {}, 'template');
    const template = { ...t, payload: { ...t.payload, to: '15550002222' } };
    await x.enqueue(text, template);
    await x.status(wabaId, 'RECONNECTED');
    const out = await x.release(wabaId);
    expect(x.callsFor(text)).toHaveLength(0);
    expect(x.callsFor(template)).toHaveLength(1);
    expect(await x.copies(wabaId)).toBe(1);
    // The drain flag is not kept for a restriction: new templates go at once; the continuation comes at expiry.
    expect(out).toMatchObject({ outcome: 'continued', progress: { state: 'paused', reason: 'restricted' } });
  });

  it('3: a release sends nothing while a hold is in force', async () => {
    const { phone, wabaId, envelopes } = await parkedThenBack(2);
    await x.hold(wabaId, phone);
    const out = await x.release(wabaId);
    expect(out.outcome).toBe('not-connected');
    for (const e of envelopes) expect(x.callsFor(e)).toHaveLength(0);
    expect(await x.copies(wabaId)).toBe(2);
  });

  it('4: with PROBE_ENDS_OFFBOARDING=true, a probe-can-send release sends what the consumer would send', async () => {
    const probing = await executors(api, { PROBE_ENDS_OFFBOARDING: 'true' });
    const wabaId = probing.uid('w');
    const phone = probing.uid('pn');
    await probing.status(wabaId, 'OFFBOARDED');
    const e = probing.envelope(wabaId, phone);
    await probing.enqueue(e);
    await probing.canSend(wabaId, phone);
    const out = await probing.releaser.run({ wabaId, trigger: 'probe-can-send', requestedAt: new Date().toISOString() }, Date.now() + 3_000);
    expect(out.outcome).toBe('done');
    expect(probing.callsFor(e)).toHaveLength(1);
    // A new message to the same recipient is sent too (the consumer reads the probe the same way).
    const next = probing.envelope(wabaId, phone);
    await probing.enqueue(next);
    expect(probing.callsFor(next)).toHaveLength(1);
  });

  it('5a: a message the release sent is never dead-lettered later: its delay-queue copy is retired when its notAfter has passed', async () => {
    const { wabaId, envelopes } = await parkedThenBack(1, { notAfter: new Date(Date.now() + 1_500).toISOString() });
    await x.release(wabaId);
    const e = envelopes[0] as never;
    expect(x.callsFor(e)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 1_600));
    expect(await x.hop()).toBeGreaterThanOrEqual(1);
    expect(await x.deadLetters()).toEqual([]);
    expect(await x.ledgerState(e)).toBe('SENT');
    expect(Object.keys(await x.outcome(e))).not.toContain('dead-lettered');
  });

  it('5b: PARTNER_REMOVED after a release sent its messages dead-letters none of them', async () => {
    const { wabaId, envelopes } = await parkedThenBack(5);
    await x.release(wabaId);
    await x.status(wabaId, 'REMOVED');
    await x.hop();
    expect(await x.deadLetters()).toEqual([]);
    for (const e of envelopes) expect(await x.ledgerState(e)).toBe('SENT');
  });

  it('6a: after the release sent the fallback for a 131047, the original never goes out from its delay-queue copy', async () => {
    const template = { messaging_product: 'whatsapp' as const, to: '15550001111', type: 'template', template: { name: 'reopen', language: { code: 'en' } } };
    const { wabaId, phone, envelopes } = await parkedThenBack(1, { fallback: template });
    const e = envelopes[0] as never as { messageId: string };
    answers.set(phone, (req) => (String(req.body.type) === 'text' ? metaError(400, 131047, 'Re-engagement message') : accepted(String(req.body.to))));
    await x.release(wabaId);
    expect(await x.ledgerState(e as never)).toBe('REPLACED_BY_FALLBACK');
    answers.delete(phone); // the window reopens
    await x.hop();
    const texts = api.requests.filter((r) => r.phoneNumberId === phone && r.body.type === 'text');
    expect(texts).toHaveLength(1);
  });

  it('6b/7: a message the release dead-letters (131026, or 131047 without fallback) is never sent or dead-lettered again', async () => {
    for (const code of [131026, 131047]) {
      const { wabaId, phone, envelopes } = await parkedThenBack(1);
      answers.set(phone, () => metaError(400, code, 'refused'));
      await x.release(wabaId);
      answers.delete(phone);
      await x.hop();
      const e = envelopes[0] as never;
      expect(x.callsFor(e)).toHaveLength(1);
      expect((await x.deadLetters()).map((d) => d.reason)).toEqual([code === 131047 ? 'window-closed' : 'rejected-by-cloud-api']);
      expect(await x.ledgerState(e)).toBe('DEAD_LETTERED');
    }
  });

  it('8: a message rate-limited (130429) and then parked gets its parked copy, and the release sends it', async () => {
    const wabaId = x.uid('w');
    const phone = x.uid('pn');
    const e = x.envelope(wabaId, phone);
    answers.set(phone, () => metaError(400, 130429, 'Rate limit hit'));
    await x.enqueue(e);
    expect(await x.copies(wabaId)).toBe(0); // a retry is not a park
    answers.delete(phone);
    await x.status(wabaId, 'OFFBOARDED');
    await x.hop(6_000);
    expect(await x.copies(wabaId)).toBe(1);
    await x.status(wabaId, 'RECONNECTED');
    await x.release(wabaId);
    expect(x.callsFor(e)).toHaveLength(2);
    expect(await x.ledgerState(e)).toBe('SENT');
  });

  it('9: the release never sends after notAfter passed during its pace wait', async () => {
    const { wabaId, phone, envelopes } = await parkedThenBack(1, { notAfter: new Date(Date.now() + 700).toISOString() });
    // Other sends took this number's next pace slots: the release waits about a second for its own.
    const { DynamoPacer } = await import('../../lambdas/adapters/dynamo/release-stores.js');
    const pacer = new DynamoPacer(x.env.doc, x.env.tableName, 70);
    for (let i = 0; i < 15; i++) await pacer.reserve(phone, Date.now());
    await x.release(wabaId, Date.now() + 5_000);
    expect(x.callsFor(envelopes[0] as never)).toHaveLength(0);
    expect((await x.deadLetters()).map((d) => d.reason)).toEqual(['expired']);
  });

  it('sequence orders one recipient\'s messages enqueued in one SendMessageBatch (same SentTimestamp), whatever their messageIds', async () => {
    const wabaId = x.uid('w');
    const phone = x.uid('pn');
    await x.status(wabaId, 'OFFBOARDED');
    const second = { ...x.envelope(wabaId, phone, { sequence: 2 }), messageId: 'a-second' };
    const first = { ...x.envelope(wabaId, phone, { sequence: 1 }), messageId: 'z-first' };
    const at = Date.now();
    await x.consumer.processBatch(
      [second, first].map((e) => ({ id: x.uid('sqs'), body: JSON.stringify({ ...e, payload: { ...e.payload, text: { body: e.messageId } } }), attributes: {}, fromDelayQueue: false, sentTimestampMs: at })),
    );
    await x.status(wabaId, 'RECONNECTED');
    await x.release(wabaId);
    const texts = api.requests.filter((r) => r.phoneNumberId === phone).map((r) => (r.body.text as { body: string }).body);
    expect(texts).toEqual(['z-first', 'a-second']);
  });

  it("a refused token (190) holds the client with reason token-invalid and parks the message, in the consumer and in a release", async () => {
    const wabaId = x.uid('w');
    const phone = x.uid('pn');
    answers.set(phone, () => metaError(401, 190, 'Error validating access token: Session has expired'));
    const before = x.telemetry.get('TokenInvalidHolds');
    const e = x.envelope(wabaId, phone);
    await x.enqueue(e);
    expect(await x.deadLetters()).toEqual([]);
    expect(await x.copies(wabaId)).toBe(1);
    expect(x.telemetry.get('TokenInvalidHolds')).toBe(before + 1);
    const client = await x.env.store.getClient(wabaId);
    expect(client?.health.hold).toMatchObject({ reason: 'token-invalid', code: '190' });
  });
});
