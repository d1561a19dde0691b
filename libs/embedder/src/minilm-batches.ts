/**
 * How one embed call's texts are cut into inference runs. A run pads every text to its longest, so
 * runs of more than one text take texts of similar length (bucketing: sorted by length, then cut),
 * and a call is spread over every worker rather than filling one run while the others idle.
 */

/**
 * Indices of `texts` grouped into runs of at most `maxBatch`. With `maxBatch` 1 every text runs
 * alone, in order. Otherwise texts are taken shortest first (characters stand in for tokens) and cut
 * into as few runs as `maxBatch` allows but at least one per worker, of sizes differing by one at most.
 */
export function planRuns(texts: readonly string[], maxBatch: number, workers: number): number[][] {
  const order = texts.map((_, i) => i);
  if (maxBatch === 1) return order.map((i) => [i]);
  order.sort((a, b) => (texts[a] as string).length - (texts[b] as string).length || a - b);
  const n = order.length;
  const count = Math.max(Math.ceil(n / maxBatch), Math.min(n, workers));
  const runs: number[][] = [];
  for (let r = 0; r < count; r++) runs.push(order.slice(Math.floor((r * n) / count), Math.floor(((r + 1) * n) / count)));
  return runs;
}
