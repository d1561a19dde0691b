import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHashEmbedder } from '@engram/ports';
import { embedderContract } from '../contracts/embedder.contract.js';

embedderContract('hash-v1', async () => createHashEmbedder());
embedderContract('hash-v1, 64 dims', async () => createHashEmbedder({ dims: 64 }));

function cosine(a: Float32Array, b: Float32Array): number {
  return a.reduce((sum, x, i) => sum + x * (b[i] as number), 0);
}

describe('hash embedder', () => {
  const embedder = createHashEmbedder();

  it('names its model hash-v1, revision 1', () => {
    assert.deepEqual(embedder.model, { id: 'hash-v1', revision: '1', dims: 384 });
  });

  it('maps text without words to e0', async () => {
    for (const [v] of await Promise.all(['', '   ', '?!, --'].map((t) => embedder.embed([t])))) {
      assert.equal(v?.[0], 1);
      assert.equal(v?.reduce((sum, x) => sum + Math.abs(x), 0), 1);
    }
  });

  it('ignores case and punctuation, but not word order entirely', async () => {
    const [a, b, c] = await embedder.embed(['Hello, World!', 'hello world', 'world hello']);
    assert.ok(Math.abs(cosine(a as Float32Array, b as Float32Array) - 1) < 1e-6);
    const reordered = cosine(a as Float32Array, c as Float32Array);
    assert.ok(reordered > 0.5 && reordered < 0.999, `same words, other order: ${reordered}`);
  });

  it('scores texts sharing words above texts sharing none, in any script', async () => {
    const [base, shared, none, cjkA, cjkB, cyr] = await embedder.embed([
      'deploy the payment service to production',
      'rollback of the payment service',
      'grandmother baked apple pie',
      '東京 の 天気',
      '東京 の 地図',
      'погода в москве',
    ]);
    const s = (x?: Float32Array, y?: Float32Array): number => cosine(x as Float32Array, y as Float32Array);
    assert.ok(s(base, shared) > s(base, none) + 0.2, `${s(base, shared)} vs ${s(base, none)}`);
    assert.ok(s(cjkA, cjkB) > s(cjkA, cyr) + 0.2, `${s(cjkA, cjkB)} vs ${s(cjkA, cyr)}`);
  });

  it('gives the same vectors as a fixed reference (stable across versions)', async () => {
    const [v] = await createHashEmbedder({ dims: 8 }).embed(['stable vector']);
    assert.deepEqual(Array.from(v as Float32Array, (x) => Number(x.toFixed(4))), REFERENCE);
    // Two- to four-byte UTF-8 (an astral CJK letter): hashed over the same bytes as TextEncoder writes.
    const [w] = await createHashEmbedder({ dims: 64 }).embed(['Größe 東京 𠀀𠀁 café']);
    const nonZero = Array.from(w as Float32Array, (x, i) => [i, Number(x.toFixed(4))]).filter(([, x]) => x !== 0);
    assert.deepEqual(nonZero, REFERENCE_UTF8);
  });
});

/**
 * createHashEmbedder({ dims: 8 }).embed(['stable vector']) rounded to 4 places, recorded once: two
 * words (weight 1) and their pair (weight 0.5) in three distinct slots, normalised by 1.5. A change
 * here changes every stored hash-v1 vector, which needs a new model id.
 */
const REFERENCE = [0, 0.3333, 0, -0.6667, 0, 0, 0, -0.6667];

/** The non-zero slots of createHashEmbedder({ dims: 64 }).embed(['Größe 東京 𠀀𠀁 café']), recorded with the TextEncoder-based hash. */
const REFERENCE_UTF8 = [[42, 0.4851], [50, -0.2425], [53, -0.4851], [55, -0.4851], [58, -0.4851]];
