import { STAGE_CONFIGS } from '../lib/stage-config.js';
import type { UnitUsage } from './release-bench.js';

/**
 * us-east-1 on-demand list prices (first pricing tier, free tiers left out), in USD. Checked in November 2026 against
 * published price summaries (AWS's own price tables are rendered by script); change them here, nowhere else.
 * - SQS standard queue: per request; every 64 KB of a payload counts as one request (the bench's messages are < 64 KB).
 * - DynamoDB on-demand: per write request unit (1 KB written) and per read request unit (4 KB read strongly, 8 KB
 *   eventually consistent).
 * - Lambda: per invocation, and per GB-second on arm64 (the stack's functions run on arm64: lib/constructs/relay-function.ts).
 * - API Gateway HTTP API: per request (512 KB increments), in front of the webhook.
 * - SNS standard topic: per publish request, every 64 KB of a request's messages one request (a PublishBatch of ten
 *   small events is one); deliveries to SQS subscriptions cost nothing.
 */
export const PRICES = {
  sqsPerMillionRequests: 0.4,
  dynamoPerMillionWriteUnits: 0.625,
  dynamoPerMillionReadUnits: 0.125,
  lambdaPerMillionRequests: 0.2,
  lambdaPerGbSecondArm64: 0.0000133334,
  httpApiPerMillionRequests: 1.0,
  snsPerMillionRequests: 0.5,
} as const;

/** Memory of each function in the stack (the releaser gets the consumer's: lib/relay-stack.ts). */
const FUNCTION_MEMORY_MIB: Readonly<Record<string, number>> = {
  webhook: STAGE_CONFIGS.prod.webhook.memoryMiB,
  consumer: STAGE_CONFIGS.prod.consumer.memoryMiB,
  releaser: STAGE_CONFIGS.prod.consumer.memoryMiB,
};

export interface BillRow {
  readonly what: string;
  /** USD per million units, by service. */
  readonly sqs: number;
  readonly sns: number;
  readonly dynamo: number;
  readonly lambda: number;
  readonly api: number;
  readonly total: number;
}

/** USD per million units of work that each used `u` (plus `httpRequests` API Gateway requests per unit). */
export const billFor = (what: string, u: UnitUsage, httpRequests = 0): BillRow => {
  const sqs = u.sqsRequests * PRICES.sqsPerMillionRequests;
  const sns = u.snsRequests * PRICES.snsPerMillionRequests;
  const dynamo = u.writeUnits * PRICES.dynamoPerMillionWriteUnits + u.readUnits * PRICES.dynamoPerMillionReadUnits;
  let lambda = 0;
  for (const [fn, l] of Object.entries(u.lambda)) {
    const memoryMiB = FUNCTION_MEMORY_MIB[fn];
    if (memoryMiB === undefined) throw new Error(`no memory size known for function ${fn}`);
    lambda += l.invocations * PRICES.lambdaPerMillionRequests + (l.billedMs / 1000) * (memoryMiB / 1024) * PRICES.lambdaPerGbSecondArm64 * 1e6;
  }
  const api = httpRequests * PRICES.httpApiPerMillionRequests;
  const round = (x: number) => Math.round(x * 100) / 100;
  return { what, sqs: round(sqs), sns: round(sns), dynamo: round(dynamo), lambda: round(lambda), api: round(api), total: round(sqs + sns + dynamo + lambda + api) };
};
