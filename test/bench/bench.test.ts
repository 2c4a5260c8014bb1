import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { checkBudgets, runBench } from '../../bench/index.js';
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
    // Counted by SDK middleware: one status read per distinct client per batch, one ledger claim and mark per send.
    for (const q of r.requests) expect(q.statusReadsPerDistinctClient).toBe(1);
    expect(r.requests.find((q) => q.scenario === 'sent, 1 client')).toMatchObject({ dynamoReadsPerMessage: 0.1, dynamoWritesPerMessage: 2.1 });
    expect(r.bundles.map((b) => b.fn)).toEqual(['webhook', 'consumer', 'status', 'aws-sdk-clients-only']);
    for (const b of r.bundles) expect(b.bytes).toBeGreaterThan(100_000);
    const names = checkBudgets(r).map((b) => b.name);
    expect(names).toContain('webhook 1 KB handler / floor');
    expect(names).toContain('status reads per distinct client per batch');
    expect(names).toContain('Cloud API calls refused per offboarding episode');
    // Holds: at most one refused call in any episode; without them the same run refuses more.
    expect(r.health.episodes).toBeGreaterThan(0);
    expect(r.health.maxRefusedInOneEpisode).toBeLessThanOrEqual(1);
    expect(r.health.withoutHolds.refusedCalls).toBeGreaterThan(r.health.refusedCalls);
    expect(r.health.delivered).toBe(r.health.messages);
  }, 180_000);

  it('simulates the park schedule deterministically, trading SQS requests for resume latency', () => {
    const a = simulateSchedule('10,20,30,60,120,240,480,900', 2000);
    expect(simulateSchedule('10,20,30,60,120,240,480,900', 2000)).toEqual(a);
    const fixed = simulateSchedule('900', 2000);
    expect(a.p50ResumeSeconds).toBeLessThan(fixed.p50ResumeSeconds);
    expect(a.sqsRequestsPerParkedMessageHour).toBeGreaterThan(fixed.sqsRequestsPerParkedMessageHour);
    expect(fixed.p99ResumeSeconds).toBeLessThanOrEqual(900 * 1.2);
  });
});
