import { randomUUID } from 'node:crypto';
import { BatchGetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { UsageCounter } from '../../bench/counters.js';
import { ensureTable, localDynamo } from '../../local/services.js';
import { checkBudgets, runBench } from '../../bench/index.js';
import { hopsPerHour, paceFigures, recipientsInOrder } from '../../bench/release-bench.js';
import { REPORT_WIDTH, renderReport } from '../../bench/report.js';
import { simulateSchedule } from '../../bench/schedule-sim.js';

/** The benchmark runs once on tiny inputs so it cannot rot; its figures are checked by `npm run bench -- --check`. */
describe('npm run bench (quick)', () => {
  it('measures every figure', async () => {
    const r = await runBench({ quick: true, dynamoEndpoint: inject('dynamoEndpoint'), sqsEndpoint: inject('sqsEndpoint') });
    expect(r.webhook).toHaveLength(4);
    for (const w of r.webhook) {
      expect(w.handlerMicros).toBeGreaterThan(w.floorMicros);
      expect(w.floorMicros).toBeGreaterThan(0);
    }
    expect(r.consumer.consumerPerSecond).toBeGreaterThan(0);
    expect(r.consumer.floorPerSecond).toBeGreaterThan(0);
    expect(r.requests.map((q) => q.scenario)).toHaveLength(6);
    // Counted by SDK middleware: one status read per distinct client per batch (with the phone owners' eventually
    // consistent read beside it: two requests a batch), one ledger claim and mark per send and nothing else (the
    // counters are the tally function's).
    for (const q of r.requests) expect(q.statusReadsPerDistinctClient).toBe(1);
    expect(r.requests.find((q) => q.scenario === 'sent, 1 client')).toMatchObject({ dynamoReadsPerMessage: 0.2, dynamoWritesPerMessage: 2 });
    expect(r.requests.find((q) => q.scenario === 'sent, 10 clients')).toMatchObject({ dynamoWritesPerMessage: 2 });
    expect(r.release.parkHour.sentPerMessage.writeUnits).toBe(2);
    // Ten distinct clients a batch: each one's status item (1 unit) and its number's owner (eventually consistent, 0.5);
    // no ledger read for a message sent.
    expect(r.release.parkHour.sentPerMessage.readUnits).toBe(1.5);
    expect(r.release.parkHour.sentPerMessage.snsRequests).toBeCloseTo(0.1, 5);
    expect(r.bundles.map((b) => b.fn)).toEqual(['webhook', 'consumer', 'status', 'sweeper', 'releaser', 'tally', 'aws-sdk-clients-only']);
    for (const b of r.bundles.filter((x) => x.fn !== 'aws-sdk-clients-only')) expect(b.largest.map((m) => m.module)).toContain('@smithy/core');
    for (const b of r.bundles) expect(b.bytes).toBeGreaterThan(100_000);
    const names = checkBudgets(r).map((b) => b.name);
    expect(names).toContain('webhook 1 KB handler / floor');
    expect(names).toContain('consumer throughput / floor');
    for (const n of ['DynamoDB write units per sent message (10 clients a batch)', 'DynamoDB write units per account_update webhook', 'SNS requests per sent message (10 a batch)', 'USD per million sent messages (bill)', 'cold init tally over the SDK floor (ms)']) {
      expect(names).toContain(n);
    }
    expect(r.consumer.shareOfFloor).toBeGreaterThan(0);
    expect(r.consumer.exactlyOnceFloorPerSecond).toBeGreaterThan(0);
    expect(r.consumer.exactlyOnceFloorPerSecond).toBeLessThan(r.consumer.floorPerSecond * 2);
    expect(names).toContain('status reads per distinct client per batch');
    expect(names).toContain('Cloud API calls refused per offboarding episode');
    // Holds: at most one refused call in any episode; without them the same run refuses more.
    expect(r.health.episodes).toBeGreaterThan(0);
    expect(r.health.maxRefusedInOneEpisode).toBeLessThanOrEqual(1);
    expect(r.health.withoutHolds.refusedCalls).toBeGreaterThan(r.health.refusedCalls);
    expect(r.health.delivered).toBe(r.health.messages);

    // Release, through the real webhook, consumer and releaser: every message went out once (checked in the bench),
    // each recipient in enqueue order, never above the pace, a real queue hop before the first call.
    const rel = r.release;
    expect(rel.resume.p50Ms).toBeGreaterThan(0);
    expect(rel.resume.p99Ms).toBeGreaterThanOrEqual(rel.resume.p50Ms);
    expect(rel.drain.map((d) => d.releasers)).toEqual([1, 2]);
    // One instance: its own call log keeps the call starts under the rate, however late a slot's call is.
    expect(rel.drain[0]?.maxInAnySecondStarts).toBeLessThanOrEqual(rel.drain[0]?.rateLimit ?? 0);
    for (const d of rel.drain) {
      expect(d.recipientsInOrder).toBe(d.recipients);
      // Paced where the pace is made: the slots handed out through DynamoDB never exceed the rate in a second, across
      // instances. The figure at the stand-in is the budget (`--check`): there a loaded machine's lateness shows.
      expect(d.maxInAnySecond).toBeGreaterThan(1);
      expect(d.maxInAnySecondSlots).toBeGreaterThan(1);
      expect(d.maxInAnySecondSlots).toBeLessThanOrEqual(d.rateLimit);
      expect(d.transitMs.p50).toBeGreaterThanOrEqual(0);
      expect(d.perSecond).toBeGreaterThan(0);
      expect(d.perMessage.writeUnits).toBeGreaterThan(0);
    }
    // One hop of a parked message alone: the event source's receive and delete, the consumer's send to the delay
    // queue; ten per batch share them. Counted by SDK middleware.
    expect(rel.parkHour.alone.perHop.sqsRequests).toBe(3);
    expect(rel.parkHour.tenPerBatch.perHop.sqsRequests).toBeCloseTo(0.3);
    expect(rel.parkHour.alone.perHop.lambda.consumer?.invocations).toBe(1);
    expect(rel.bill.map((b) => b.what)).toHaveLength(5);
    for (const b of rel.bill) expect(b.total).toBeGreaterThan(0);
    expect(rel.bill.find((b) => b.what.startsWith('webhooks'))?.api).toBe(1);
    expect(names).toEqual(expect.arrayContaining(['resume p50, webhook answered -> first call (ms)', 'SQS requests per parked message-hour, alone']));
    // The printed report fits the terminal.
    const widest = Math.max(...renderReport(r, checkBudgets(r)).split('\n').map((l) => l.length));
    expect(widest).toBeLessThanOrEqual(REPORT_WIDTH);
    // Message statuses: no read with the relay's callback data, one batched read per POST without; one write each.
    expect(r.outcomes.map((o) => [o.scenario, o.readsPerStatus, o.outcomeWritesPerStatus])).toEqual([
      ["1 status per POST, relay's callback data", 0, 1],
      ["1 status per POST, sender's own callback data", 1, 1],
      ["10 statuses per POST, relay's callback data", 0, 1],
      ["10 statuses per POST, sender's own callback data", 0.1, 1],
    ]);
    expect(names).toContain("DynamoDB reads per status (relay's callback data)");
    // Per instance at the Cloud API's 150 ms: concurrency for 100 msg/s is ceil(100 / rate).
    expect(r.latency.latencyMs).toBe(150);
    expect(r.latency.rates.map((x) => x.fn)).toEqual(['consumer', 'releaser']);
    for (const x of r.latency.rates) {
      expect(x.perInstance).toBeGreaterThan(0);
      expect(x.concurrencyFor100).toBe(Math.ceil(100 / x.perInstance));
    }
  }, 180_000);

  it('counts the keys a BatchGetItem did not find as AWS bills them (DynamoDB Local reports none for them)', async () => {
    const dynamo = localDynamo(inject('dynamoEndpoint'));
    const table = `bench-absent-${randomUUID().slice(0, 8)}`;
    await ensureTable(dynamo, table, { stream: false });
    const usage = new UsageCounter();
    usage.watchDynamo(dynamo);
    await dynamo.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'here' }, sk: { S: 'x' } } }));
    const key = (pk: string) => ({ pk: { S: pk }, sk: { S: 'x' } });
    usage.reset();
    await dynamo.send(new BatchGetItemCommand({ RequestItems: { [table]: { Keys: [key('here'), key('gone-1'), key('gone-2')], ConsistentRead: true } } }));
    expect(usage.snapshot().readUnits).toBe(3);
    usage.reset();
    await dynamo.send(new BatchGetItemCommand({ RequestItems: { [table]: { Keys: [key('here'), key('gone-1'), key('gone-2')] } } }));
    expect(usage.snapshot().readUnits).toBe(1.5);
    dynamo.destroy();
  });

  it('computes the pace from call times: a hand-made timeline over the cap is caught', () => {
    // 16 calls 60 ms apart: all inside one second (900 ms), one more than a cap of 15.
    const over = Array.from({ length: 16 }, (_, i) => 1_000 + i * 60);
    expect(paceFigures(over).maxInAnySecond).toBe(16);
    // 70 ms apart, as the pacer spaces them at 15/s: 15 in any second, 14.3 per second.
    const paced = Array.from({ length: 31 }, (_, i) => i * 70);
    expect(paceFigures(paced)).toEqual({ perSecond: 14.29, maxInAnySecond: 15 });
    // A window is half-open: calls exactly one second apart are in different windows.
    expect(paceFigures([0, 1000]).maxInAnySecond).toBe(1);
  });

  it('counts a recipient in order only when all its messages arrived once, in enqueue order', () => {
    const expected = new Map([
      ['a', ['1', '2', '3']],
      ['b', ['4', '5']],
      ['c', ['6']],
    ]);
    const arrived = (pairs: string) => pairs.split(' ').map((p) => ({ to: p[0] as string, text: p.slice(1) }));
    expect(recipientsInOrder(expected, arrived('a1 b4 a2 c6 b5 a3'))).toEqual({ inOrder: 3, recipients: 3 });
    expect(recipientsInOrder(expected, arrived('a1 a3 a2 b4 b5 c6'))).toEqual({ inOrder: 2, recipients: 3 });
    expect(recipientsInOrder(expected, arrived('a1 a2 a3 b4 b5 b5 c6'))).toEqual({ inOrder: 2, recipients: 3 });
    expect(recipientsInOrder(expected, arrived('a1 a2 a3 b4'))).toEqual({ inOrder: 1, recipients: 3 });
  });

  it('counts the default schedule\'s checks in a parked hour with their jitter averaged', () => {
    // 900 s +/- 20%, capped at SQS's 900: 855 s on average.
    expect(hopsPerHour('900')).toBeCloseTo(3600 / 855, 1);
    expect(hopsPerHour('60')).toBeCloseTo(60, 0);
  });

  it('simulates the park schedule deterministically, trading SQS requests for resume latency', () => {
    const a = simulateSchedule('10,20,30,60,120,240,480,900', 2000, 3);
    expect(simulateSchedule('10,20,30,60,120,240,480,900', 2000, 3)).toEqual(a);
    const fixed = simulateSchedule('900', 2000, 3);
    expect(a.p50ResumeSeconds).toBeLessThan(fixed.p50ResumeSeconds);
    expect(a.sqsRequestsPerParkedMessageHour).toBeGreaterThan(fixed.sqsRequestsPerParkedMessageHour);
    expect(fixed.p99ResumeSeconds).toBeLessThanOrEqual(900 * 1.2);
  });
});
