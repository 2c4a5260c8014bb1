import { randomUUID } from 'node:crypto';
import { DynamoClientStore, documentClient } from '../lambdas/adapters/dynamo/client-store.js';
import { CloudApiStandIn } from '../local/cloud-api-stand-in.js';
import { ensureTable, localDynamo, localSqs, type RunningService, startDynamoDbLocal, startFauxqs } from '../local/services.js';
import { type BundleResult, bundleBench, SDK_FLOOR_NAME } from './bundles.js';
import { type RequestsResult, requestsBench, type ThroughputResult, throughputBench } from './consumer-bench.js';
import { type HealthBenchResult, healthBench } from './health-bench.js';
import { type LatencyResult, latencyBench } from './latency-bench.js';
import { type BillRow, billFor } from './bill.js';
import { type DrainResult, drainBench, type ParkHourResult, parkHourBench, type ResumeResult, resumeBench } from './release-bench.js';
import { type OutcomeBenchResult, outcomeBench } from './outcome-bench.js';
import { type ScheduleResult, scheduleBench } from './schedule-sim.js';
import { largeBody, memoryStore, smallBody, type WebhookCase, webhookCase } from './webhook-bench.js';

export interface BenchOptions {
  /** Tiny inputs and few iterations: proves the code runs (used by `npm test`), measures nothing reliable. */
  readonly quick?: boolean;
  readonly dynamoEndpoint?: string;
  readonly sqsEndpoint?: string;
  readonly log?: (line: string) => void;
}

export interface BenchReport {
  readonly quick: boolean;
  readonly webhook: readonly WebhookCase[];
  readonly consumer: ThroughputResult;
  readonly requests: readonly RequestsResult[];
  readonly bundles: readonly BundleResult[];
  readonly schedule: readonly ScheduleResult[];
  readonly health: HealthBenchResult;
  readonly release: ReleaseReport;
  /** DynamoDB requests per message status webhook status (issue 13). */
  readonly outcomes: readonly OutcomeBenchResult[];
  /** Per function instance against a Cloud API answering in 150 ms, and the concurrency for 100 msg/s (issue 19). */
  readonly latency: LatencyResult;
}

export interface ReleaseReport {
  readonly resume: ResumeResult;
  /** One releaser instance, then two at once (two clients sharing one phone number: one release runs per client). */
  readonly drain: readonly DrainResult[];
  readonly parkHour: ParkHourResult;
  /** USD per million units at us-east-1 list prices (bench/bill.ts). */
  readonly bill: readonly BillRow[];
}

export interface Budget {
  readonly name: string;
  readonly value: number;
  readonly limit: number;
  readonly ok: boolean;
}

const BUDGETS = {
  bundleBytes: 460 * 1024,
  /** Cold init over the SDK-only floor (a bundle that only builds the DynamoDB and SQS clients). */
  coldInitOverFloorMs: 15,
  statusReadsPerClientPerBatch: 1,
  webhookRatio1k: 3,
  /** Consumer throughput as a share of its floor (receive, post, delete on the same queue and stand-in), at least. */
  consumerShareOfFloor: 0.5,
  refusedCallsPerOffboardingEpisode: 1,
  resumeP50Ms: 2000,
  resumeP99Ms: 5000,
  /** Share of RELEASE_RATE_PER_SECOND a release drain reaches at least. */
  drainPaceShare: 0.9,
  sqsPerParkedHourAlone: 13,
  sqsPerParkedHourTenPerBatch: 2,
  /** A status carrying the relay's callback data finds its message without a read. */
  readsPerStatusWithRelayCallbackData: 0.1,
  outcomeWritesPerStatus: 1,
  /** A sent message: its claim and its confirmation, each on an item under 1 KB (issue 19). */
  writeUnitsPerSentMessage: 2,
  /** An account_update: the status item and the timeline entry. */
  writeUnitsPerAccountUpdate: 3,
  /** Relay events go out per batch: one PublishBatch per ten sent messages at most. */
  snsRequestsPerSentMessage: 0.1,
  /** USD per million sent messages, every service included. */
  billPerMillionSent: 1.5,
} as const;

export const checkBudgets = (r: BenchReport): Budget[] => {
  const out: Budget[] = [];
  const floorBundle = r.bundles.find((x) => x.fn === SDK_FLOOR_NAME);
  for (const b of r.bundles.filter((x) => x.fn !== SDK_FLOOR_NAME)) {
    out.push({ name: `bundle size ${b.fn} (bytes)`, value: b.bytes, limit: BUDGETS.bundleBytes, ok: b.bytes <= BUDGETS.bundleBytes });
    const over = Math.round((b.coldInitMs - (floorBundle?.coldInitMs ?? 0)) * 10) / 10;
    out.push({ name: `cold init ${b.fn} over the SDK floor (ms)`, value: over, limit: BUDGETS.coldInitOverFloorMs, ok: over <= BUDGETS.coldInitOverFloorMs });
  }
  const worstReads = Math.max(...r.requests.map((q) => q.statusReadsPerDistinctClient));
  out.push({ name: 'status reads per distinct client per batch', value: worstReads, limit: 1, ok: worstReads <= 1 });
  const small = r.webhook.find((w) => w.name.startsWith('1 KB') && w.name.includes('in-memory'));
  if (small) out.push({ name: 'webhook 1 KB handler / floor', value: small.ratio, limit: BUDGETS.webhookRatio1k, ok: small.ratio <= BUDGETS.webhookRatio1k });
  const share = r.consumer.shareOfFloor;
  out.push({ name: 'consumer throughput / floor', value: share, limit: BUDGETS.consumerShareOfFloor, ok: share >= BUDGETS.consumerShareOfFloor });
  const refused = r.health.refusedPerEpisode;
  out.push({
    name: 'Cloud API calls refused per offboarding episode',
    value: refused,
    limit: BUDGETS.refusedCallsPerOffboardingEpisode,
    ok: refused <= BUDGETS.refusedCallsPerOffboardingEpisode,
  });
  const rel = r.release;
  out.push({ name: 'resume p50, webhook answered -> first call (ms)', value: rel.resume.p50Ms, limit: BUDGETS.resumeP50Ms, ok: rel.resume.p50Ms <= BUDGETS.resumeP50Ms });
  out.push({ name: 'resume p99, webhook answered -> first call (ms)', value: rel.resume.p99Ms, limit: BUDGETS.resumeP99Ms, ok: rel.resume.p99Ms <= BUDGETS.resumeP99Ms });
  for (const d of rel.drain) {
    const who = `${d.parked} parked, ${d.releasers} releaser${d.releasers > 1 ? 's' : ''}`;
    const floor = Math.round(d.rateLimit * BUDGETS.drainPaceShare * 100) / 100;
    out.push({ name: `drain rate, ${who} (msg/s)`, value: d.perSecond, limit: floor, ok: d.perSecond >= floor });
    out.push({ name: `most calls in any 1 s, ${who}`, value: d.maxInAnySecond, limit: d.rateLimit, ok: d.maxInAnySecond <= d.rateLimit });
    out.push({ name: `recipients in enqueue order, ${who}`, value: d.recipientsInOrder, limit: d.recipients, ok: d.recipientsInOrder === d.recipients });
  }
  const ph = rel.parkHour;
  out.push({ name: 'SQS requests per parked message-hour, alone', value: ph.alone.sqsPerParkedHour, limit: BUDGETS.sqsPerParkedHourAlone, ok: ph.alone.sqsPerParkedHour <= BUDGETS.sqsPerParkedHourAlone });
  out.push({
    name: 'SQS requests per parked message-hour, ten per batch',
    value: ph.tenPerBatch.sqsPerParkedHour,
    limit: BUDGETS.sqsPerParkedHourTenPerBatch,
    ok: ph.tenPerBatch.sqsPerParkedHour <= BUDGETS.sqsPerParkedHourTenPerBatch,
  });
  const relayData = r.outcomes.filter((o) => o.scenario.includes("relay's callback data"));
  const reads = Math.max(...relayData.map((o) => o.readsPerStatus));
  out.push({ name: "DynamoDB reads per status (relay's callback data)", value: reads, limit: BUDGETS.readsPerStatusWithRelayCallbackData, ok: reads <= BUDGETS.readsPerStatusWithRelayCallbackData });
  const writes = Math.max(...r.outcomes.map((o) => o.outcomeWritesPerStatus));
  out.push({ name: 'outcome writes per status', value: writes, limit: BUDGETS.outcomeWritesPerStatus, ok: writes <= BUDGETS.outcomeWritesPerStatus });
  const round = (x: number) => Math.round(x * 100) / 100;
  const max = (name: string, value: number, limit: number) => out.push({ name, value: round(value), limit, ok: round(value) <= limit });
  const sent = rel.parkHour.sentPerMessage;
  max('DynamoDB write units per sent message (10 clients a batch)', sent.writeUnits, BUDGETS.writeUnitsPerSentMessage);
  max('DynamoDB write units per account_update webhook', rel.resume.perWebhook.writeUnits, BUDGETS.writeUnitsPerAccountUpdate);
  max('SNS requests per sent message (10 a batch)', sent.snsRequests, BUDGETS.snsRequestsPerSentMessage);
  const bill = rel.bill.find((b) => b.what.startsWith('sent messages'));
  if (bill) max('USD per million sent messages (bill)', bill.total, BUDGETS.billPerMillionSent);
  return out;
};

/** The bill's rows from the measured usage (bench/bill.ts holds the prices). */
const releaseBill = (resume: ResumeResult, drain: DrainResult, parkHour: ParkHourResult): BillRow[] => {
  const hourly = (u: ParkHourResult['alone']['perHop']) => ({
    sqsRequests: u.sqsRequests * parkHour.hopsPerHour,
    snsRequests: u.snsRequests * parkHour.hopsPerHour,
    readUnits: u.readUnits * parkHour.hopsPerHour,
    writeUnits: u.writeUnits * parkHour.hopsPerHour,
    lambda: Object.fromEntries(
      Object.entries(u.lambda).map(([fn, l]) => [fn, { invocations: l.invocations * parkHour.hopsPerHour, billedMs: l.billedMs * parkHour.hopsPerHour }]),
    ),
  });
  return [
    billFor('sent messages (client connected, ten per batch)', parkHour.sentPerMessage),
    billFor('parked messages released (enqueue, park, release)', drain.perMessage),
    billFor('parked message-hours, alone in a batch', hourly(parkHour.alone.perHop)),
    billFor('parked message-hours, ten per batch', hourly(parkHour.tenPerBatch.perHop)),
    billFor('webhooks (1 KB account_update)', resume.perWebhook, 1),
  ];
};

export const runBench = async (options: BenchOptions = {}): Promise<BenchReport> => {
  const quick = options.quick ?? false;
  const log = options.log ?? (() => undefined);
  // Figures that need no services first, so a JVM warming up next to them cannot skew them.
  log('webhook handler (in-memory store)...');
  const smallBodies = Array.from({ length: quick ? 5 : 500 }, (_, i) => smallBody(i));
  const largeBodies = Array.from({ length: quick ? 1 : 3 }, (_, i) => largeBody(i, quick ? 20 : 1000));
  const inMemory = [
    await webhookCase('1 KB, 1 change, in-memory store', smallBodies, memoryStore(), quick ? 5 : 2000),
    await webhookCase(quick ? 'large, 20 changes, in-memory store' : '3 MB, 1000 changes, in-memory store', largeBodies, memoryStore(), quick ? 1 : 3),
  ];
  log('bundles and cold init...');
  const bundles = await bundleBench(quick ? 1 : 15);

  const started: RunningService[] = [];
  const api = await new CloudApiStandIn().start();
  try {
    let dynamoEndpoint = options.dynamoEndpoint;
    let sqsEndpoint = options.sqsEndpoint;
    if (!dynamoEndpoint) {
      const d = await startDynamoDbLocal();
      started.push(d);
      dynamoEndpoint = d.endpoint;
    }
    if (!sqsEndpoint) {
      const q = await startFauxqs();
      started.push(q);
      sqsEndpoint = q.endpoint;
    }
    const dynamo = localDynamo(dynamoEndpoint);
    const sqs = localSqs(sqsEndpoint);

    log('webhook handler (DynamoDB Local)...');
    const table = `bench-webhook-${randomUUID().slice(0, 8)}`;
    await ensureTable(dynamo, table, { stream: false });
    const dynamoStore = new DynamoClientStore(documentClient(dynamo), table);
    const webhook = [
      ...inMemory,
      await webhookCase('1 KB, 1 change, DynamoDB Local', smallBodies, dynamoStore, quick ? 3 : 200),
      await webhookCase(quick ? 'large, 20 changes, DynamoDB Local' : '3 MB, 1000 changes, DynamoDB Local', largeBodies, dynamoStore, 1),
    ];

    log('consumer throughput...');
    const services = { dynamo, sqs, api };
    const consumer = await throughputBench(services, quick ? 20 : 500, 4, quick ? 1 : 3);
    log('requests per message...');
    const requests = await requestsBench(services);
    log('refused calls per offboarding episode (randomized run, virtual clock)...');
    const health = await healthBench(dynamo, api, { quick });
    log('DynamoDB requests per status webhook...');
    const outcomes = await outcomeBench(dynamo, quick ? 10 : 100);
    dynamo.destroy();
    sqs.destroy();

    const endpoints = { dynamo: dynamoEndpoint, sqs: sqsEndpoint };
    log('release: SQS requests per parked hop, usage per sent message...');
    const parkHour = await parkHourBench(endpoints, api, quick ? 10 : 200);
    log('release: resume latency after ACCOUNT_RECONNECTED...');
    const resume = await resumeBench(endpoints, api, quick ? { episodes: 2, perEpisode: 1, warmup: 1 } : { episodes: 40, perEpisode: 3, warmup: 2 });
    log('release: drain pace and order, one releaser...');
    const one = await drainBench(endpoints, api, { parked: quick ? 20 : 300, recipients: quick ? 2 : 10, releasers: 1 });
    log('release: drain pace and order, two releasers at once...');
    const two = await drainBench(endpoints, api, { parked: quick ? 20 : 300, recipients: quick ? 2 : 10, releasers: 2 });
    const release = { resume, drain: [one, two], parkHour, bill: releaseBill(resume, one, parkHour) };
    log('park schedule simulation (the delay loop alone)...');
    const schedule = scheduleBench(quick ? 200 : 100_000, parkHour.alone.perHop.sqsRequests);
    log('per instance at the Cloud API\'s latency (150 ms): consumer, releaser...');
    const latency = await latencyBench(endpoints, { quick });
    return { quick, webhook, consumer, requests, bundles, schedule, health, release, outcomes, latency };
  } finally {
    await api.stop();
    for (const s of started) await s.stop();
  }
};
