/**
 * The send policy's contract: both executors decide alike. For any combination of what is known of a client (status,
 * hold, restriction, phone owner, the stage's probe setting with a can-send probe) and any answer of the Cloud API, a
 * message ends in the same place whether the consumer takes it from the outbound queue or a release takes its parked
 * copy: the same Cloud API calls, the same dead-letter reason, still waiting or not, and the same ledger state.
 */
import { fc, test } from '@fast-check/vitest';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { RESTRICTION_TYPES } from '../../lambdas/core/health/client-health.js';
import type { StatusClass } from '../../lambdas/core/status/client-status.js';
import type { OutboundEnvelope } from '../../lambdas/core/outbound/envelope.js';
import { accepted, type CloudApiReply, CloudApiStandIn, metaError } from '../../local/cloud-api-stand-in.js';
import { executors, type Executors } from '../support/executors.js';

let api: CloudApiStandIn;
let byProbeSetting: Record<'off' | 'on', Executors>;
const answers = new Map<string, () => CloudApiReply>();

beforeAll(async () => {
  api = await new CloudApiStandIn().start();
  api.respond = (req) => answers.get(req.phoneNumberId)?.() ?? accepted(String(req.body.to));
  // Probes of a held client answer "connected": the hold's own probe must not change what the case observes.
  byProbeSetting = { off: await executors(api), on: await executors(api, { PROBE_ENDS_OFFBOARDING: 'true' }) };
});
afterAll(async () => {
  await api.stop();
});

const ANSWERS = {
  accept: null,
  'not-connected 133010': () => metaError(400, 133010, 'Account not registered'),
  'token 190': () => metaError(401, 190, 'Session has expired'),
  'window closed 131047': () => metaError(400, 131047, 'Re-engagement message'),
  'rejected 131026': () => metaError(400, 131026, 'Message undeliverable'),
  'throughput 130429': () => metaError(400, 130429, 'Rate limit hit'),
  'server 500': () => metaError(500, 1, 'An unknown error occurred'),
} as const;

const caseArb = fc.record({
  status: fc.constantFrom<StatusClass | 'never-seen'>('never-seen', 'RECONNECTED', 'OFFBOARDED', 'REMOVED', 'DISABLED'),
  held: fc.boolean(),
  restriction: fc.constantFrom<'none' | 'customer' | 'business'>('none', 'customer', 'business'),
  type: fc.constantFrom<'text' | 'template'>('text', 'template'),
  owner: fc.constantFrom<'unknown' | 'same' | 'other'>('unknown', 'same', 'other'),
  probe: fc.constantFrom<'off' | 'on'>('off', 'on'),
  canSendProbe: fc.boolean(),
  answer: fc.constantFrom(...(Object.keys(ANSWERS) as (keyof typeof ANSWERS)[])),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

/** A client set up as the case says, and the message to send for it. */
const prepare = async (x: Executors, c: Case): Promise<OutboundEnvelope> => {
  const wabaId = x.uid('w');
  const phone = x.uid('pn');
  if (c.status === 'OFFBOARDED' || c.status === 'RECONNECTED') await x.status(wabaId, 'OFFBOARDED');
  if (c.status === 'RECONNECTED') await x.status(wabaId, 'RECONNECTED');
  if (c.status === 'REMOVED' || c.status === 'DISABLED') await x.status(wabaId, c.status);
  if (c.canSendProbe) await x.canSend(wabaId, phone);
  if (c.held) await x.hold(wabaId, phone);
  if (c.restriction !== 'none') {
    await x.restrict(wabaId, c.restriction === 'customer' ? RESTRICTION_TYPES.customerInitiated : RESTRICTION_TYPES.bizInitiated, Date.now() + 3_600_000);
  }
  if (c.owner !== 'unknown') await x.phones.learn(phone, c.owner === 'same' ? wabaId : 'another-waba', 'webhook', Date.now());
  const answer = ANSWERS[c.answer];
  if (answer) answers.set(phone, answer);
  return x.envelope(wabaId, phone, {}, c.type);
};

/** Where the message ended: what either executor did to it, in the same words. */
const observe = async (x: Executors, e: OutboundEnvelope, waiting: boolean, deadLetters: readonly { reason: string; envelope: { messageId?: string } }[]) => ({
  calls: x.callsFor(e).length,
  deadLetter: deadLetters.find((d) => d.envelope.messageId === e.messageId)?.reason ?? null,
  waiting,
  ledger: await x.ledgerState(e),
});

describe('one send policy: the consumer and a release decide alike', () => {
  test.prop([caseArb], { numRuns: 40, endOnFailure: true })('for every client fact and Cloud API answer', async (c) => {
    const x = byProbeSetting[c.probe];
    await x.deadLetters();
    // The consumer: a fresh message from the outbound queue.
    const viaConsumer = await prepare(x, c);
    const consumed = await x.consumer.processBatch([{ id: x.uid('sqs'), body: JSON.stringify(viaConsumer), attributes: {}, fromDelayQueue: false, sentTimestampMs: Date.now() }]);
    expect(consumed.failedIds).toEqual([]);
    // Waiting: back on the delay queue (a park or a retry) rather than sent or dead-lettered, so not final.
    const state = await x.ledgerState(viaConsumer);
    const consumerWaits = state !== 'SENT' && state !== 'DEAD_LETTERED' && state !== 'REPLACED_BY_FALLBACK';
    // A release: the same message, parked, with the same facts.
    const viaRelease = await prepare(x, c);
    await x.park(viaRelease);
    await x.release(viaRelease.wabaId, Date.now() + 1_500);
    const releaseWaits = (await x.copies(viaRelease.wabaId)) > 0;
    const dead = await x.deadLetters();
    const a = await observe(x, viaConsumer, consumerWaits, dead);
    const b = await observe(x, viaRelease, releaseWaits, dead);
    // After 130429 the release tries the same message again within its run (the number backs off, order holds), where
    // the consumer re-queues it: the same decision ("retry after"), more calls in the same time.
    if (c.answer === 'throughput 130429' && a.calls > 0) expect(b.calls).toBeGreaterThanOrEqual(1);
    else expect(b.calls).toBe(a.calls);
    expect({ ...b, calls: 0 }).toEqual({ ...a, calls: 0 });
  });
});
