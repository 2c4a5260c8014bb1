/** "Did you mean ...?" for a mistyped command, action or option. */

/**
 * The edit distance of two words (optimal string alignment): insertions, deletions, substitutions and swaps of two
 * neighbouring characters each count 1, so `stauts` is 1 from `status`.
 */
export const editDistance = (a: string, b: string): number => {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    const row = d[i] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      row[j] = best;
    }
  }
  return at(a.length, b.length);
};

/**
 * The one choice close to `word` (case ignored): at most 1 edit for words up to 4 characters, 2 for longer ones, and
 * closer than every other choice; else undefined (two equally close choices suggest neither).
 */
export const closest = (word: string, choices: readonly string[]): string | undefined => {
  const w = word.toLowerCase();
  const limit = w.length <= 4 ? 1 : 2;
  const ranked = choices
    .filter((c) => c.toLowerCase() !== w)
    .map((c) => ({ c, d: editDistance(w, c.toLowerCase()) }))
    .filter((x) => x.d <= limit)
    .sort((x, y) => x.d - y.d);
  const [first, second] = ranked;
  if (!first || (second && second.d === first.d)) return undefined;
  return first.c;
};

/** ` (did you mean "<choice>"?)`, or '' when no choice is close. `show` renders the choice (`--waba` for an option). */
export const didYouMean = (word: string, choices: readonly string[], show: (c: string) => string = (c) => `"${c}"`): string => {
  const c = closest(word, choices);
  return c === undefined ? '' : ` (did you mean ${show(c)}?)`;
};
