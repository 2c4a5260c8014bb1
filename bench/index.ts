import { randomUUID } from 'node:crypto';
import { DynamoClientStore, documentClient } from '../lambdas/adapters/dynamo/client-store.js';
import { CloudApiStandIn } from '../local/cloud-api-stand-in.js';
import { ensureTable, localDynamo, localSqs, type RunningService, startDynamoDbLocal, startFauxqs } from '../local/services.js';
import { type BundleResult, bundleBench, SDK_FLOOR_NAME } from './bundles.js';
import { type RequestsResult, requestsBench, type ThroughputResult, throughputBench } from './consumer-bench.js';
import { type HealthBenchResult, healthBench } from './health-bench.js';
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
}

export interface Budget {
  readonly name: string;
  readonly value: number;
  readonly limit: number;
  readonly ok: boolean;
}

export const BUDGETS = {
  bundleBytes: 500 * 1024,
  coldInitMs: 100,
  statusReadsPerClientPerBatch: 1,
  webhookRatio1k: 3,
  refusedCallsPerOffboardingEpisode: 1,
} as const;

export const checkBudgets = (r: BenchReport): Budget[] => {
  const out: Budget[] = [];
  for (const b of r.bundles.filter((x) => x.fn !== SDK_FLOOR_NAME)) {
    out.push({ name: `bundle size ${b.fn} (bytes)`, value: b.bytes, limit: BUDGETS.bundleBytes, ok: b.bytes <= BUDGETS.bundleBytes });
    out.push({ name: `cold init ${b.fn} (ms)`, value: b.coldInitMs, limit: BUDGETS.coldInitMs, ok: b.coldInitMs <= BUDGETS.coldInitMs });
  }
  const worstReads = Math.max(...r.requests.map((q) => q.statusReadsPerDistinctClient));
  out.push({ name: 'status reads per distinct client per batch', value: worstReads, limit: 1, ok: worstReads <= 1 });
  const small = r.webhook.find((w) => w.name.startsWith('1 KB') && w.name.includes('in-memory'));
  if (small) out.push({ name: 'webhook 1 KB handler / floor', value: small.ratio, limit: BUDGETS.webhookRatio1k, ok: small.ratio <= BUDGETS.webhookRatio1k });
  const refused = r.health.refusedPerEpisode;
  out.push({
    name: 'Cloud API calls refused per offboarding episode',
    value: refused,
    limit: BUDGETS.refusedCallsPerOffboardingEpisode,
    ok: refused <= BUDGETS.refusedCallsPerOffboardingEpisode,
  });
  return out;
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
  log('park schedule simulation...');
  const schedule = scheduleBench(quick ? 200 : 100_000);

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
    await ensureTable(dynamo, table);
    const dynamoStore = new DynamoClientStore(documentClient(dynamo), table);
    const webhook = [
      ...inMemory,
      await webhookCase('1 KB, 1 change, DynamoDB Local', smallBodies, dynamoStore, quick ? 3 : 200),
      await webhookCase(quick ? 'large, 20 changes, DynamoDB Local' : '3 MB, 1000 changes, DynamoDB Local', largeBodies, dynamoStore, 1),
    ];

    log('consumer throughput...');
    const services = { dynamo, sqs, api };
    const consumer = await throughputBench(services, quick ? 20 : 1000);
    log('requests per message...');
    const requests = await requestsBench(services);
    log('refused calls per offboarding episode (randomized run, virtual clock)...');
    const health = await healthBench(dynamo, api, { quick });
    dynamo.destroy();
    sqs.destroy();
    return { quick, webhook, consumer, requests, bundles, schedule, health };
  } finally {
    await api.stop();
    for (const s of started) await s.stop();
  }
};
