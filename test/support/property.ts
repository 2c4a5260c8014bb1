/**
 * How many cases each property test runs: a bounded number in `npm test`, more when `FC_NUM_RUNS` is set
 * (e.g. `FC_NUM_RUNS=2000 npx vitest run test/unit`). One place, so every property test scales together.
 */
export const numRuns = (defaultRuns: number): number => {
  const n = Number(process.env.FC_NUM_RUNS);
  return Number.isInteger(n) && n > 0 ? n : defaultRuns;
};
