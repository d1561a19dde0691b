/**
 * Synthetic embeddings and exact search for the vector benchmarks.
 *
 * Uniform random vectors are a poor stand-in for sentence embeddings: in 384 dimensions every pair
 * is nearly orthogonal, so "nearest" neighbours are barely nearer than the rest. Real embeddings
 * cluster by topic. The data here is therefore clustered: random unit centroids, each point a
 * centroid plus gaussian noise, normalised. With the default noise (norm equal to the centroid's)
 * a point has cosine ~0.71 to its centroid and ~0.5 to another point of its cluster, against ~0 to
 * other clusters. A seeded PRNG makes every run, and every machine, index the same vectors.
 */

/** mulberry32: small, fast, good enough for test data; deterministic for a given seed. */
export function createRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples (Box–Muller), two per pair of uniforms. */
export function createGaussian(random: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const u = 1 - random(); // (0, 1]: log(0) would be -Infinity
    const v = random();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

function normalizeRow(data: Float32Array, offset: number, dims: number): void {
  let sum = 0;
  for (let j = 0; j < dims; j++) sum += (data[offset + j] as number) ** 2;
  const inv = 1 / Math.sqrt(sum);
  for (let j = 0; j < dims; j++) data[offset + j] = (data[offset + j] as number) * inv;
}

export interface ClusteredOptions {
  count: number;
  dims: number;
  /** @default 1000 */
  clusters?: number;
  /** Norm of the noise relative to the (unit) centroid. @default 1 */
  noise?: number;
  /** @default 42 */
  seed?: number;
}

/** `count` unit vectors, row-major in one Float32Array (`count * dims` floats). */
export function clusteredVectors(options: ClusteredOptions): Float32Array {
  const { count, dims } = options;
  const clusters = options.clusters ?? 1000;
  const sigma = (options.noise ?? 1) / Math.sqrt(dims);
  const random = createRandom(options.seed ?? 42);
  const gaussian = createGaussian(random);
  const centroids = new Float32Array(clusters * dims);
  for (let i = 0; i < centroids.length; i++) centroids[i] = gaussian();
  for (let c = 0; c < clusters; c++) normalizeRow(centroids, c * dims, dims);
  const data = new Float32Array(count * dims);
  for (let i = 0; i < count; i++) {
    const c = Math.floor(random() * clusters);
    for (let j = 0; j < dims; j++) data[i * dims + j] = (centroids[c * dims + j] as number) + sigma * gaussian();
    normalizeRow(data, i * dims, dims);
  }
  return data;
}

/** Row `i` as a view (no copy). */
export function row(data: Float32Array, dims: number, i: number): Float32Array {
  return data.subarray(i * dims, (i + 1) * dims);
}

export interface ExactNeighbours {
  /** Per query, the k nearest base rows, best first. */
  all: Int32Array[];
  /** Per query, the k nearest among rows of the query's group (row i is in group i % groups, query q in q % groups). */
  inGroup: Int32Array[];
}

/**
 * Exact top-k by cosine (a dot product: every row is unit length), for every query at once, both
 * over all rows and within the query's group, in one pass over the base per query. Plain
 * Float32Array loops unrolled by four; sums in float64 so the order is exact for practical purposes.
 */
export function exactNeighbours(base: Float32Array, queries: Float32Array, dims: number, k: number, groups: number): ExactNeighbours {
  if (dims % 4 !== 0) throw new Error('exactNeighbours assumes dims divisible by 4');
  const n = base.length / dims;
  const all: Int32Array[] = [];
  const inGroup: Int32Array[] = [];
  for (let q = 0; q < queries.length / dims; q++) {
    const query = queries.subarray(q * dims, (q + 1) * dims);
    const best = new TopIndices(k);
    const bestInGroup = new TopIndices(k);
    const group = q % groups;
    for (let i = 0, o = 0; i < n; i++, o += dims) {
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let j = 0; j < dims; j += 4) {
        s0 += (query[j] as number) * (base[o + j] as number);
        s1 += (query[j + 1] as number) * (base[o + j + 1] as number);
        s2 += (query[j + 2] as number) * (base[o + j + 2] as number);
        s3 += (query[j + 3] as number) * (base[o + j + 3] as number);
      }
      const score = s0 + s1 + s2 + s3;
      best.offer(i, score);
      if (i % groups === group) bestInGroup.offer(i, score);
    }
    all.push(best.indices());
    inGroup.push(bestInGroup.indices());
  }
  return { all, inGroup };
}

/** The k highest-scoring indices seen, kept sorted; k is small so insertion is cheapest. */
class TopIndices {
  private readonly scores: Float64Array;
  private readonly ids: Int32Array;
  private size = 0;

  constructor(private readonly k: number) {
    this.scores = new Float64Array(k);
    this.ids = new Int32Array(k);
  }

  offer(id: number, score: number): void {
    const { scores, ids, k } = this;
    if (this.size === k && score <= (scores[k - 1] as number)) return;
    let pos = this.size < k ? this.size++ : k - 1;
    while (pos > 0 && (scores[pos - 1] as number) < score) {
      scores[pos] = scores[pos - 1] as number;
      ids[pos] = ids[pos - 1] as number;
      pos--;
    }
    scores[pos] = score;
    ids[pos] = id;
  }

  indices(): Int32Array {
    return this.ids.slice(0, this.size);
  }
}
