/**
 * Exact search for the embedded HNSW index (small tenants, selective filters), held by the graph
 * worker beside the graph: an int8 copy of every vector, by label, scanned in memory, and the
 * best candidates rescored with their full vectors from LMDB.
 *
 * Why a copy: exact search used to read each candidate's vector from LMDB, ~3–4 µs an item at 100k
 * items (a B-tree lookup and a buffer per vector), against ~0.7 µs to score one held in memory;
 * hnswlib keeps its own floats but cannot hand them out cheaply (getPoint builds a JS array). Int8
 * with one scale per vector costs a quarter of the floats (384 bytes at 384 dims, against hnswlib's
 * ~1,700 a point). It moves a dot product of unit 384-d vectors by 3.7e-4 rms, 1.9e-3 at worst over
 * 400,000 pairs (bench/lib/vectors.ts data), while the candidates ranked k+1 to 2k+16 spread over
 * a few hundredths: rescoring those {@link rescored} candidates exactly restores exact scores and
 * order (recall@10 1.000 at 100k × 384, tenants of 2,000 to 100,000 items).
 */
import { TopK } from './hnsw-vectors.js';
import type { Scored } from './hnsw-vectors.js';

/** Candidates kept from the int8 scan and rescored exactly: room for ties and rounding around the k-th. */
export function rescored(k: number): number {
  return 2 * k + 16;
}

export class QuantizedVectors {
  private codes: Int8Array;
  private scales: Float32Array;

  constructor(
    readonly dims: number,
    capacity: number,
  ) {
    this.codes = new Int8Array(capacity * dims);
    this.scales = new Float32Array(capacity);
  }

  /** Stores the int8 form of `vector` (unit length) under `label`, growing the arrays as needed. */
  set(label: number, vector: Float32Array): void {
    if (label >= this.scales.length) this.grow(label + 1);
    let max = 0;
    for (let i = 0; i < vector.length; i++) max = Math.max(max, Math.abs(vector[i] as number));
    const scale = max / 127;
    const offset = label * this.dims;
    for (let i = 0; i < vector.length; i++) this.codes[offset + i] = Math.round((vector[i] as number) / scale);
    this.scales[label] = scale;
  }

  /** Approximate dot product of `query` with the vector under `label`. */
  score(query: Float32Array, label: number): number {
    const { codes, dims } = this;
    const offset = label * dims;
    // Four accumulators: about 15% faster than one in V8 (fewer dependent additions).
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let i = 0;
    for (; i + 3 < dims; i += 4) {
      s0 += (query[i] as number) * (codes[offset + i] as number);
      s1 += (query[i + 1] as number) * (codes[offset + i + 1] as number);
      s2 += (query[i + 2] as number) * (codes[offset + i + 2] as number);
      s3 += (query[i + 3] as number) * (codes[offset + i + 3] as number);
    }
    for (; i < dims; i++) s0 += (query[i] as number) * (codes[offset + i] as number);
    return (s0 + s1 + s2 + s3) * (this.scales[label] as number);
  }

  private grow(minimum: number): void {
    const capacity = Math.max(minimum, this.scales.length * 2, 1024);
    const codes = new Int8Array(capacity * this.dims);
    codes.set(this.codes);
    const scales = new Float32Array(capacity);
    scales.set(this.scales);
    this.codes = codes;
    this.scales = scales;
  }
}

/**
 * The `k` best of `labels` for `query`: an int8 scan keeps the {@link rescored} best, whose exact
 * scores come from `exact` (undefined when the item is gone: skipped).
 */
export function exactSearch(
  query: Float32Array,
  k: number,
  labels: Iterable<number>,
  vectors: QuantizedVectors,
  exact: (label: number) => Scored | undefined,
): Scored[] {
  const size = rescored(k);
  // Labels and scores of the best `size` so far, worst at `worst`; a full scan stays allocation-free.
  const best = new Int32Array(size);
  const scores = new Float64Array(size);
  let filled = 0;
  let worst = 0;
  for (const label of labels) {
    const score = vectors.score(query, label);
    if (filled < size) {
      best[filled] = label;
      scores[filled++] = score;
      if (filled === size) worst = indexOfMin(scores);
    } else if (score > (scores[worst] as number)) {
      best[worst] = label;
      scores[worst] = score;
      worst = indexOfMin(scores);
    }
  }
  const top = new TopK(k);
  for (let i = 0; i < filled; i++) {
    const hit = exact(best[i] as number);
    if (hit !== undefined) top.offer(hit);
  }
  return top.result();
}

/** Linear: `size` is a few dozen and replacements are rare once the scan is under way. */
function indexOfMin(scores: Float64Array): number {
  let at = 0;
  for (let i = 1; i < scores.length; i++) if ((scores[i] as number) < (scores[at] as number)) at = i;
  return at;
}
