/**
 * How many cases a property test runs: a bounded number in `npm test`, more with `FC_NUM_RUNS` (for example
 * `FC_NUM_RUNS=2000 npx vitest run test/integration/webhook-properties.test.ts`).
 */
export const propertyRuns = (byDefault: number): number => {
  const fromEnv = Number(process.env.FC_NUM_RUNS);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : byDefault;
};
