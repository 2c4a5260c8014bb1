/**
 * Per-instance figures at the real Cloud API's latency (issue 19, item 5): the consumer and the releaser run as in
 * the rest of the bench, but against a Cloud API stand-in that answers every send in {@link CLOUD_API_LATENCY_MS}.
 * One consumer instance is one poller handling batches of 10 one after the other (what one Lambda instance behind
 * the SQS event source does); one releaser instance is one release run (one client's parked messages, paced).
 * A partner's Lambda concurrency for a rate is then ceil(rate / per-instance rate).
 */
import { CloudApiStandIn } from '../local/cloud-api-stand-in.js';
import { localDynamo, localSqs } from '../local/services.js';
import { DEFAULTS } from '../lambdas/core/shared/defaults.js';
import { throughputBench } from './consumer-bench.js';
import { drainBench } from './release-bench.js';

/** What a Cloud API send takes to answer, as the bench assumes it (Meta publishes no figure; ~150 ms observed). */
const CLOUD_API_LATENCY_MS = 150;
/** The partner rate the concurrency figure is for. */
const TARGET_PER_SECOND = 100;

export interface InstanceRate {
  readonly fn: 'consumer' | 'releaser';
  /** How the instance was driven. */
  readonly setup: string;
  readonly messages: number;
  /** Messages per second one instance handles (consumer: median of rounds). */
  readonly perInstance: number;
  /** The same work's floor at the same latency (consumer: receive, post 10 at once, delete), when there is one. */
  readonly floorPerInstance: number | null;
  /** What caps the figure by design (releaser: the pace per phone number), if anything. */
  readonly cap: string | null;
  /** ceil(TARGET_PER_SECOND / perInstance). */
  readonly concurrencyFor100: number;
}

export interface LatencyResult {
  readonly latencyMs: number;
  readonly targetPerSecond: number;
  readonly rates: readonly InstanceRate[];
}

/** Lambda instances needed for `target` messages per second at `perInstance` each. */
const concurrencyFor = (target: number, perInstance: number): number => (perInstance > 0 ? Math.ceil(target / perInstance) : Number.POSITIVE_INFINITY);

export const latencyBench = async (
  endpoints: { readonly dynamo: string; readonly sqs: string },
  options: { readonly quick: boolean; readonly latencyMs?: number },
): Promise<LatencyResult> => {
  const latencyMs = options.latencyMs ?? CLOUD_API_LATENCY_MS;
  const api = await new CloudApiStandIn({ latencyMs }).start();
  const dynamo = localDynamo(endpoints.dynamo);
  const sqs = localSqs(endpoints.sqs);
  try {
    const messages = options.quick ? 20 : 200;
    const rounds = options.quick ? 1 : 3;
    const c = await throughputBench({ dynamo, sqs, api }, messages, 1, rounds);
    const parked = options.quick ? 10 : 90;
    const d = await drainBench(endpoints, api, { parked, recipients: options.quick ? 2 : 10, releasers: 1 });
    return {
      latencyMs,
      targetPerSecond: TARGET_PER_SECOND,
      rates: [
        {
          fn: 'consumer',
          setup: `1 poller, batches of 10, 10 clients, ${messages} msgs x ${rounds}`,
          messages,
          perInstance: c.consumerPerSecond,
          floorPerInstance: c.floorPerSecond,
          cap: null,
          concurrencyFor100: concurrencyFor(TARGET_PER_SECOND, c.consumerPerSecond),
        },
        {
          fn: 'releaser',
          setup: `1 release run, ${parked} parked, 1 number`,
          messages: parked,
          perInstance: d.perSecond,
          floorPerInstance: null,
          cap: `pace ${DEFAULTS.releaseRatePerSecond} msg/s per number`,
          concurrencyFor100: concurrencyFor(TARGET_PER_SECOND, d.perSecond),
        },
      ],
    };
  } finally {
    dynamo.destroy();
    sqs.destroy();
    await api.stop();
  }
};
