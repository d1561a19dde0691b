/** Sentence vectors from MiniLM's token vectors, as all-MiniLM-L6-v2 was trained: mean pooling, L2 norm. */
import { MINILM_DIMS } from './model-files.js';

/**
 * Mean of each text's token vectors over its attention mask, scaled to unit length: `count × 384`
 * floats. Written out rather than transformers.js's mean_pooling + normalize, whose generic tensor
 * code cost ~7% of a text's whole embedding time (measured: 0.2 ms of 2.8 ms for 20 tokens).
 */
export function meanPoolNormalized(hidden: Float32Array, mask: BigInt64Array, count: number): Float32Array {
  const tokens = mask.length / count;
  const out = new Float32Array(count * MINILM_DIMS);
  const sum = new Float64Array(MINILM_DIMS);
  for (let b = 0; b < count; b++) {
    sum.fill(0);
    let used = 0;
    for (let t = 0; t < tokens; t++) {
      if (mask[b * tokens + t] === 0n) continue;
      used++;
      const base = (b * tokens + t) * MINILM_DIMS;
      for (let d = 0; d < MINILM_DIMS; d++) sum[d] = (sum[d] as number) + (hidden[base + d] as number);
    }
    // The mean's 1/used factor cancels out in the normalisation; only the direction is kept.
    let norm = 0;
    for (let d = 0; d < MINILM_DIMS; d++) norm += (sum[d] as number) ** 2;
    const scale = used === 0 || norm === 0 ? 0 : 1 / Math.sqrt(norm);
    for (let d = 0; d < MINILM_DIMS; d++) out[b * MINILM_DIMS + d] = (sum[d] as number) * scale;
  }
  return out;
}
