/**
 * Usernames and business-scoped user ids (BSUIDs): an envelope may name its recipient by `recipient` (a BSUID or a
 * parent BSUID) instead of `to`, as the Cloud API accepts; `to` wins when both are present. Driven through both
 * executors on DynamoDB Local and fauxqs against the Cloud API stand-in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvelope } from '../../lambdas/core/outbound/envelope.js';
import { accepted, type CloudApiReply, type CloudApiRequest, CloudApiStandIn, metaError } from '../../local/cloud-api-stand-in.js';
import { executors, type Executors } from '../support/executors.js';

let api: CloudApiStandIn;
let x: Executors;
const answers = new Map<string, (req: CloudApiRequest) => CloudApiReply>();

beforeAll(async () => {
  api = await new CloudApiStandIn().start();
  api.respond = (req) => answers.get(req.phoneNumberId)?.(req) ?? accepted(String(req.body.to ?? req.body.recipient));
  x = await executors(api);
});
afterAll(async () => {
  await api.stop();
});

const BSUID = 'US.13491208655302741918';
const PARENT = 'US.ENT.11815799212886844830';
const byUsername = (wabaId: string, phone: string, recipient: string, text: string) => {
  const e = x.envelope(wabaId, phone);
  return { ...e, messageId: text, payload: { messaging_product: 'whatsapp' as const, recipient, type: 'text', text: { body: text } } };
};

describe('envelopes addressed by BSUID', () => {
  it('accepts `recipient` (a BSUID or a parent BSUID) without `to`, and refuses an envelope with neither', () => {
    for (const recipient of [BSUID, PARENT]) {
      expect(parseEnvelope(JSON.stringify({ messageId: 'm', wabaId: 'w', phoneNumberId: 'p', payload: { messaging_product: 'whatsapp', recipient, type: 'text' } })).ok).toBe(true);
    }
    const neither = parseEnvelope(JSON.stringify({ messageId: 'm', wabaId: 'w', phoneNumberId: 'p', payload: { messaging_product: 'whatsapp', type: 'text' } }));
    expect(neither).toMatchObject({ ok: false, problem: expect.stringContaining('"recipient" (a BSUID)') });
  });

  it('sends a BSUID-only envelope as written, and dead-letters 131062 recipient-type-not-supported without a retry', async () => {
    const wabaId = x.uid('w');
    const phone = x.uid('pn');
    await x.deadLetters();
    const ok = byUsername(wabaId, phone, BSUID, x.uid('hello'));
    await x.enqueue(ok);
    expect(x.callsFor(ok).map((r) => [r.body.recipient, r.body.to])).toEqual([[BSUID, undefined]]);
    expect(await x.ledgerState(ok)).toBe('SENT');
    answers.set(phone, () => metaError(400, 131062, 'Business-scoped user ID recipients are not supported for this message type'));
    const auth = byUsername(wabaId, phone, BSUID, x.uid('otp'));
    await x.enqueue(auth);
    expect(x.callsFor(auth)).toHaveLength(1);
    expect((await x.deadLetters()).map((d) => d.reason)).toEqual(['recipient-type-not-supported']);
    expect(await x.ledgerState(auth)).toBe('DEAD_LETTERED');
  });

  it('a release keeps one lane per person whichever way they are named: a BSUID recipient waits without holding up a phone recipient', async () => {
    const wabaId = x.uid('w');
    const phone = x.uid('pn');
    await x.status(wabaId, 'OFFBOARDED');
    const first = byUsername(wabaId, phone, BSUID, x.uid('b1'));
    const second = byUsername(wabaId, phone, BSUID, x.uid('b2'));
    const other = { ...x.envelope(wabaId, phone), payload: { messaging_product: 'whatsapp' as const, to: '15550009999', type: 'text', text: { body: 'phone' } } };
    await x.enqueue(first, second, other);
    await x.status(wabaId, 'RECONNECTED');
    // The BSUID's first message meets the pair rate: its second must wait behind it; the phone recipient goes.
    let n = 0;
    answers.set(phone, (req) => (req.body.recipient === BSUID && n++ === 0 ? metaError(400, 131056, 'pair rate') : accepted(String(req.body.to ?? req.body.recipient))));
    await x.release(wabaId);
    expect(x.callsFor(first)).toHaveLength(1);
    expect(x.callsFor(second)).toHaveLength(0);
    expect(api.requests.some((r) => r.phoneNumberId === phone && r.body.to === '15550009999')).toBe(true);
  });
});
