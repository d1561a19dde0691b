/**
 * How the embedded index answers one search: exact over the items the filter matches, or through
 * the HNSW graph with a candidate list (ef) sized for the filter's selectivity. Pure arithmetic, so
 * the choice can be tested and tuned apart from hnswlib.
 *
 * The constants come from measurements on 100,000 × 384-d clustered vectors ("loose" data: noise 2
 * in bench/lib/vectors.ts), M = 16, efConstruction = 100, k = 10, raw hnswlib with a typed-array
 * filter, a tenant holding `fraction` of the points:
 *
 * | fraction | recall@10 at ef 160 | 320 | 480 | 640 |
 * |---:|---:|---:|---:|---:|
 * | 1 (no filter) | 0.994 | 0.995 | 0.996 | 0.997 |
 * | 0.5 | 0.987 | 0.991 | 0.992 | 0.994 |
 * | 0.2 | 0.965 | 0.987 | 0.992 | 0.995 |
 * | 0.1 | 0.936 | 0.972 | 0.990 | 0.995 |
 * | 0.05 | 0.947 | 0.988 | 0.994 | 0.998 |
 * | 0.02 | 0.979 | 0.997 | 1.000 | 1.000 |
 *
 * A filtered search stops once it holds ef accepted points, so it visits about ef / fraction of
 * them (the filter was called ~3.3·ef / fraction times in every row): the rejected points take the
 * room of accepted ones, and ef must grow as the fraction shrinks. Below ~0.05 the search walks a
 * good part of the graph anyway and recall recovers on its own. That walk is also what it costs:
 * the graph took ~8 µs per unit of ef / fraction in every row (1.4 ms unfiltered at ef 160; 22 ms
 * at fraction 0.1, ef 320), against ~0.7 µs to score one item exactly in memory (hnsw-exact.ts).
 */

export interface SearchTuning {
  /** Smallest candidate list of a graph search. */
  efSearch: number;
  /** Most matching items searched exactly; 0 sends every search to the graph. */
  exactSearchBelow: number;
}

/**
 * Candidate list per requested result without a filter. hnswlib's usual ef = 64 gives recall@10 of
 * only ~0.9 on 5,000 random 64-d vectors (M = 16); 16·k (160 for k = 10) gives ~0.99 for about 2x
 * the latency, and 0.994 unfiltered on the loose data above.
 */
const EF_PER_K = 16;

/** With a filter, ef ≥ this · k / fraction: 400 at fraction 0.1 (recall ~0.98 above), 200 at 0.2. */
const FILTERED_EF_PER_K = 4;

/** Ceiling on ef per result: the table shows no gain beyond 64·k (640), where small fractions land. */
const MAX_EF_PER_K = 64;

/**
 * Cost of graph search per unit of ef / fraction, in items scored exactly: ~8 µs against ~0.7 µs
 * (see above), rounded down a little as the exact path also rescores its best candidates from LMDB.
 */
const GRAPH_COST = 10;

export interface SearchPlan {
  /** Search the matching items exactly instead of through the graph. */
  exact: boolean;
  /** Candidate list for a graph search. */
  ef: number;
}

function ceilingEf(k: number, tuning: SearchTuning): number {
  return Math.max(tuning.efSearch, MAX_EF_PER_K * k);
}

/** ef for a graph search whose filter passes `fraction` (0, 1] of the graph's points. */
export function searchEf(fraction: number, k: number, tuning: SearchTuning): number {
  const base = Math.max(tuning.efSearch, EF_PER_K * k);
  return Math.max(base, Math.min(Math.ceil((FILTERED_EF_PER_K * k) / fraction), ceilingEf(k, tuning)));
}

/**
 * @param matches items the filter matches (estimated when there are many)
 * @param points points in the graph, hidden ones included: the graph walks them too
 */
export function planSearch(matches: number, points: number, k: number, tuning: SearchTuning): SearchPlan {
  const fraction = Math.min(1, Math.max(matches, 1) / Math.max(points, 1));
  const ef = searchEf(fraction, k, tuning);
  return { exact: matches <= tuning.exactSearchBelow && matches <= (GRAPH_COST * ef) / fraction, ef };
}

/**
 * Matching items past which {@link planSearch} never chooses exact search, whatever their number:
 * exact needs matches ≤ GRAPH_COST · ef · points / matches with ef at most its ceiling. A scan
 * counting matches can stop there.
 */
export function scanLimit(points: number, k: number, tuning: SearchTuning): number {
  return Math.min(tuning.exactSearchBelow, Math.floor(Math.sqrt(GRAPH_COST * ceilingEf(k, tuning) * Math.max(points, 1))));
}
