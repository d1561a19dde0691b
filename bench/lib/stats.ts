/**
 * Order statistics for benchmark figures. Medians over runs, percentiles over per-operation
 * latencies: means are skewed by the pauses a shared 2-core machine inflicts, medians are not.
 */

/** Sorted copy, ascending; the input is left alone. */
function sorted(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/** The middle value (mean of the two middle ones for an even count); NaN for no values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = sorted(values);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * Nearest-rank percentile: the smallest value such that at least `p` percent of the values are at
 * or below it (p99 of 1,000 latencies is the 990th smallest). NaN for no values.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  const s = sorted(values);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.max(0, rank - 1)] as number;
}

export interface LatencySummary {
  p50Ms: number;
  p99Ms: number;
  /** Operations per second over the whole sequential loop (not 1000 / mean of samples). */
  perSecond: number;
}

/** Summary of sequential operations timed one by one; `totalMs` is the wall time of the loop. */
export function summarizeLatencies(latenciesMs: readonly number[], totalMs: number): LatencySummary {
  return { p50Ms: percentile(latenciesMs, 50), p99Ms: percentile(latenciesMs, 99), perSecond: (latenciesMs.length * 1000) / totalMs };
}

/** Fraction of `truth` found in `found` (recall@k with k = truth.length). */
export function recall(found: readonly number[], truth: ArrayLike<number>): number {
  if (truth.length === 0) return 1;
  const wanted = new Set<number>(Array.from(truth));
  let hits = 0;
  for (const label of found) if (wanted.has(label)) hits++;
  return hits / truth.length;
}
