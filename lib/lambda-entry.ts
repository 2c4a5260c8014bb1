import { fileURLToPath } from 'node:url';

/** The relay's Lambda functions. Each name is also its Powertools service name: the `service` metric dimension. */
export const LAMBDA_NAMES = ['webhook', 'consumer', 'status', 'sweeper', 'releaser', 'tally'] as const;
export type LambdaName = (typeof LAMBDA_NAMES)[number];

/** Absolute path of a function's entry module: the one place that knows where the entry files live. */
export const lambdaEntry = (name: LambdaName): string => fileURLToPath(new URL(`../lambdas/${name}/index.ts`, import.meta.url));
