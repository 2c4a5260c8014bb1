import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoCounterStore } from '../../lambdas/adapters/dynamo/counters-item.js';
import { readMessageChanges } from '../../lambdas/adapters/dynamo/message-stream.js';
import { DynamoMessageOutcomeStore } from '../../lambdas/adapters/dynamo/message-outcome-store.js';
import { DynamoSendLedger } from '../../lambdas/adapters/dynamo/outbound-stores.js';
import type { CounterStore } from '../../lambdas/core/status/ports.js';
import { createTallyHandler } from '../../lambdas/tally/handler.js';
import { LocalStreamSource } from '../../local/stream-source.js';
import { localResources } from '../support/aws.js';
import { RecordingTelemetry } from '../support/telemetry.js';

let env: Awaited<ReturnType<typeof localResources>>;
let ledger: DynamoSendLedger;
let outcomes: DynamoMessageOutcomeStore;
let n = 0;
const uid = (p: string) => `${p}-${Date.now().toString(36)}-${++n}`;

beforeAll(async () => {
  env = await localResources([]);
  ledger = new DynamoSendLedger(env.doc, env.tableName, 5_000, 1);
  outcomes = new DynamoMessageOutcomeStore(env.doc, env.tableName, 1);
});

/** The stream read by a source whose handler's counter store fails the first `failures` times. */
const source = (failures = 0, seen: DynamoDBStreamEvent[] = []) => {
  const real = new DynamoCounterStore(env.doc, env.tableName);
  let left = failures;
  const counters: CounterStore = {
    add: async (t, batchId, now) => {
      await real.add(t.slice(0, 1), batchId, now);
      // Fails after the first client's write: the retried batch must not add to that client again.
      if (left-- > 0) throw new Error('injected failure after a partial write');
      await real.add(t.slice(1), batchId, now);
    },
  };
  const handler = createTallyHandler(readMessageChanges, counters, new RecordingTelemetry());
  const errors: unknown[] = [];
  const s = new LocalStreamSource(env.dynamoEndpoint, env.tableName, async (e) => { seen.push(e); return handler(e); }, (e) => errors.push(e), 60_000);
  return { s, errors };
};

const counters = async (wabaId: string) => (await env.store.getClient(wabaId))?.counters;

describe('client counters from the table stream (DynamoDB Local)', () => {
  const a = uid('wa');
  const b = uid('wb');
  const running: LocalStreamSource[] = [];
  afterAll(async () => {
    for (const s of running) await s.stop();
  });

  it('counts sends, dead letters and first parks of each client once, with one counter write per client per batch', async () => {
    await env.store.touchClient(a, new Date().toISOString());
    await env.store.touchClient(b, new Date().toISOString());
    const sent = async (wabaId: string, messageId: string) => {
      const c = await ledger.claim({ wabaId, messageId }, Date.now());
      if (c.outcome !== 'claimed') throw new Error('not claimed');
      await ledger.markSent({ wabaId, messageId }, c.token, `wamid.${messageId}`, Date.now());
    };
    for (const m of ['1', '2', '3']) await sent(a, m);
    await outcomes.record({ wabaId: b, messageId: 'p' }, { state: 'parked', atMs: Date.now(), source: 'relay' }, Date.now());
    const c = await ledger.claim({ wabaId: b, messageId: 'p' }, Date.now());
    if (c.outcome !== 'claimed') throw new Error('not claimed');
    // A second outcome write on the parked message (a later park): not a new park.
    await outcomes.record({ wabaId: b, messageId: 'p' }, { state: 'parked', atMs: Date.now() + 1, source: 'relay' }, Date.now());
    await ledger.markDeadLettered({ wabaId: b, messageId: 'p' }, c.token, { reason: 'expired', deadLetteredAt: new Date().toISOString() });

    const seen: DynamoDBStreamEvent[] = [];
    const { s, errors } = source(1, seen);
    running.push(s);
    expect(await s.start()).toBe(true);
    await s.drain().catch(() => undefined);
    await s.drain();
    expect(errors).toEqual([]);
    expect(seen.length).toBeGreaterThanOrEqual(2); // the failed batch came again
    expect(await counters(a)).toEqual({ parked: 0, sent: 3, deadLettered: 0, ambiguousResends: 0 });
    expect(await counters(b)).toEqual({ parked: 1, sent: 0, deadLettered: 1, ambiguousResends: 0 });
  });

  it('adds nothing for a batch delivered again after it was applied', async () => {
    const before = await counters(a);
    const store = new DynamoCounterStore(env.doc, env.tableName);
    const t = [{ wabaId: a, parked: 0, sent: 5, deadLettered: 0, ambiguousResends: 0 }];
    await store.add(t, 'batch-x', Date.now());
    await store.add(t, 'batch-x', Date.now());
    expect((await counters(a))?.sent).toBe((before?.sent ?? 0) + 5);
  });
});
