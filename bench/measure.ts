export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

export const percentile = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
};

/** Deterministic PRNG (mulberry32) so simulations give the same figures every run. */
export const seeded = (seed: number): (() => number) => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

/**
 * Times two functions in alternating rounds (a, b, a, b, ...) so machine noise and drift hit both alike; returns
 * the median microseconds per call of each.
 */
export const timePair = async (
  a: () => Promise<unknown>,
  b: () => Promise<unknown>,
  iterations: number,
  rounds = 9,
): Promise<[number, number]> => {
  for (let i = 0; i < Math.min(iterations, 1000); i++) {
    await a();
    await b();
  }
  const sa: number[] = [];
  const sb: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const [fn, out] of [[a, sa], [b, sb]] as const) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < iterations; i++) await fn();
      out.push(Number(process.hrtime.bigint() - start) / 1000 / iterations);
    }
  }
  return [median(sa), median(sb)];
};
