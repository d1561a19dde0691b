/**
 * Vector arithmetic for the embedded HNSW index: validation, normalisation, the byte form stored in
 * LMDB, and the exact top-k used for small tenants. Everything works on unit vectors, so cosine
 * similarity is a plain dot product.
 */
import { ValidationError } from '@engram/core';

/**
 * Checks length and values, then returns a unit-length copy, written to `out` when given (`dims`
 * long). A zero or non-finite vector has no direction, so cosine similarity is undefined for it:
 * refuse it rather than index garbage.
 */
export function normalizeVector(vector: Float32Array, dims: number, what: string, out = new Float32Array(dims)): Float32Array {
  if (!(vector instanceof Float32Array)) {
    throw new ValidationError('invalid_vector', `${what}: vector must be a Float32Array`);
  }
  if (vector.length !== dims) {
    throw new ValidationError('vector_dims_mismatch', `${what}: vector has ${vector.length} dims, the collection has ${dims}`, {
      expected: dims,
      actual: vector.length,
    });
  }
  let sum = 0;
  for (let i = 0; i < vector.length; i++) {
    const v = vector[i] as number;
    if (!Number.isFinite(v)) throw new ValidationError('invalid_vector', `${what}: vector holds a non-finite value at ${i}`);
    sum += v * v;
  }
  if (sum === 0) throw new ValidationError('invalid_vector', `${what}: vector is all zeros`);
  const norm = Math.sqrt(sum);
  for (let i = 0; i < vector.length; i++) out[i] = (vector[i] as number) / norm;
  return out;
}

/**
 * The stored form: raw little-endian Float32 bytes. A view, not a copy: LMDB copies the bytes when
 * the write transaction puts them, and the index's vectors are its own normalised copies.
 */
export function vectorToBytes(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

/**
 * The vectors in one buffer, `dims` floats each, for one transfer to the graph worker. When they
 * are already consecutive views of one whole buffer (a batch as hnsw-validation packs it, none
 * skipped), that buffer is returned as is.
 */
export function packVectors(vectors: Float32Array[], dims: number): Float32Array<ArrayBuffer> {
  const first = vectors[0];
  const packed = first?.buffer instanceof ArrayBuffer && first.buffer.byteLength === vectors.length * dims * 4;
  if (packed && vectors.every((v, i) => v.buffer === first.buffer && v.byteOffset === i * dims * 4)) {
    return new Float32Array(first.buffer as ArrayBuffer);
  }
  const out = new Float32Array(vectors.length * dims);
  vectors.forEach((v, i) => out.set(v, i * dims));
  return out;
}

/** Reads stored bytes back; copies when the buffer is not 4-byte aligned (Float32Array requires it). */
export function bytesToVector(bytes: Uint8Array): Float32Array {
  if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** Dot product accumulated in float64; for unit vectors this is the cosine similarity. */
export function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] as number) * (b[i] as number);
  return sum;
}

export interface Scored {
  id: string;
  score: number;
}

/** Highest score first; ties broken by id so results are deterministic. */
export function compareScored(a: Scored, b: Scored): number {
  if (b.score !== a.score) return b.score - a.score;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Keeps the k best of a stream of candidates. A sorted array with binary insertion is plenty for the
 * sizes the exact path sees (k small, at most `exactSearchBelow` candidates).
 */
export class TopK {
  private readonly items: Scored[] = [];

  constructor(private readonly k: number) {}

  offer(candidate: Scored): void {
    const { items, k } = this;
    if (items.length === k && compareScored(candidate, items[k - 1] as Scored) >= 0) return;
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareScored(items[mid] as Scored, candidate) <= 0) lo = mid + 1;
      else hi = mid;
    }
    items.splice(lo, 0, candidate);
    if (items.length > k) items.pop();
  }

  result(): Scored[] {
    return this.items;
  }
}
