import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { meanPoolNormalized } from './minilm-pooling.js';
import { MINILM_DIMS } from './model-files.js';

/** Token vectors of `rows` tokens, token t holding `value(t, d)` at dimension d. */
function hidden(rows: number, value: (t: number, d: number) => number): Float32Array {
  const data = new Float32Array(rows * MINILM_DIMS);
  for (let t = 0; t < rows; t++) for (let d = 0; d < MINILM_DIMS; d++) data[t * MINILM_DIMS + d] = value(t, d);
  return data;
}

describe('meanPoolNormalized', () => {
  it('averages the unmasked tokens of each text and scales to unit length, ignoring padding', () => {
    // Two texts padded to 3 tokens: the first has 2 real tokens, the second 3.
    const data = hidden(6, (t, d) => (t === 2 ? 1000 : (t + 1) * (d % 2 === 0 ? 1 : -1)));
    const mask = BigInt64Array.from([1n, 1n, 0n, 1n, 1n, 1n]);
    const out = meanPoolNormalized(data, mask, 2);
    assert.equal(out.length, 2 * MINILM_DIMS);
    // Text 0: mean of its tokens 0 and 1 → ±1.5 per dimension, so every component is ±1/√384.
    const unit = 1 / Math.sqrt(MINILM_DIMS);
    assert.ok(Math.abs((out[0] as number) - unit) < 1e-6 && Math.abs((out[1] as number) + unit) < 1e-6, `${out[0]}, ${out[1]}`);
    for (const b of [0, 1]) {
      const vector = out.subarray(b * MINILM_DIMS, (b + 1) * MINILM_DIMS);
      const norm = Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
      assert.ok(Math.abs(norm - 1) < 1e-6, `text ${b} norm ${norm}`);
    }
    // Had the padding token (all 1000) counted, text 0's odd components would be positive.
    assert.ok(Math.abs((out[MINILM_DIMS] as number) - unit) < 1e-6 && Math.abs((out[MINILM_DIMS + 1] as number) + unit) < 1e-6);
    // A text with no unmasked token (never produced: [CLS] and [SEP] always count) gets zeros, not NaN.
    assert.ok(meanPoolNormalized(data.subarray(0, MINILM_DIMS), BigInt64Array.from([0n]), 1).every((x) => x === 0));
  });

  it('gives a text the same vector whatever padding follows it', () => {
    const alone = meanPoolNormalized(hidden(2, (t, d) => Math.sin(t * 7 + d)), BigInt64Array.from([1n, 1n]), 1);
    const padded = meanPoolNormalized(hidden(4, (t, d) => (t < 2 ? Math.sin(t * 7 + d) : 5)), BigInt64Array.from([1n, 1n, 0n, 0n]), 1);
    assert.deepEqual(padded, alone);
  });
});
