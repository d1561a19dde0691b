/**
 * The Embedder contract: the same assertions for every implementation (hashing test double, MiniLM).
 * The texts are chosen so that even a bag-of-words model must rank the related pair above the
 * unrelated one; any real model does too.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Embedder } from '@engram/ports';

/** Makes a fresh embedder; the suite closes it. */
export type EmbedderFactory = () => Promise<Embedder>;

const TEXTS = [
  'The cat sat on the mat.',
  'A cat was sitting on a mat',
  'Quarterly revenue grew eleven percent in Europe',
  '',
  'Ünïcödé text — 日本語のテキスト, emoji 🚀 and numbers 42',
  'memory '.repeat(400),
];

function cosine(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] as number) * (b[i] as number);
  return sum;
}

function assertClose(actual: Float32Array, expected: Float32Array, tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const delta = Math.abs((actual[i] as number) - (expected[i] as number));
    if (delta > tolerance) assert.fail(`${what}: component ${i} differs by ${delta}`);
  }
}

export function embedderContract(name: string, factory: EmbedderFactory): void {
  describe(`Embedder contract: ${name}`, () => {
    let embedder: Embedder;

    before(async () => {
      embedder = await factory();
    });
    after(async () => {
      await embedder.close();
    });

    it('describes its model', () => {
      const { id, revision, dims } = embedder.model;
      assert.ok(typeof id === 'string' && id.length > 0, 'model id');
      assert.ok(typeof revision === 'string' && revision.length > 0, 'model revision');
      assert.ok(Number.isSafeInteger(dims) && dims > 0, 'model dims');
    });

    it('returns one unit-length vector of model.dims per text, empty text included', async () => {
      const vectors = await embedder.embed(TEXTS);
      assert.equal(vectors.length, TEXTS.length);
      vectors.forEach((v, i) => {
        assert.ok(v instanceof Float32Array, `vector ${i} is a Float32Array`);
        assert.equal(v.length, embedder.model.dims, `vector ${i} dims`);
        assert.ok(v.every(Number.isFinite), `vector ${i} is finite`);
        assert.ok(Math.abs(Math.sqrt(cosine(v, v)) - 1) < 1e-4, `vector ${i} has unit length`);
      });
      assert.deepEqual(await embedder.embed([]), []);
    });

    it('is deterministic', async () => {
      const [first, second] = [await embedder.embed(TEXTS), await embedder.embed(TEXTS)];
      first.forEach((v, i) => assertClose(v, second[i] as Float32Array, 1e-6, `text ${i}`));
    });

    it('keeps the order of the batch, and a batch equals single calls', async () => {
      const batch = await embedder.embed(TEXTS);
      const reversed = await embedder.embed([...TEXTS].reverse());
      for (let i = 0; i < TEXTS.length; i++) {
        const [single] = await embedder.embed([TEXTS[i] as string]);
        assertClose(batch[i] as Float32Array, single as Float32Array, 1e-5, `text ${i} batch vs single`);
        assertClose(reversed[TEXTS.length - 1 - i] as Float32Array, single as Float32Array, 1e-5, `text ${i} reversed batch vs single`);
      }
    });

    it('puts texts about the same thing closer than unrelated ones', async () => {
      const [cat, sittingCat, revenue] = await embedder.embed(TEXTS.slice(0, 3));
      const related = cosine(cat as Float32Array, sittingCat as Float32Array);
      const unrelated = cosine(cat as Float32Array, revenue as Float32Array);
      assert.ok(related > unrelated + 0.1, `related ${related.toFixed(3)} vs unrelated ${unrelated.toFixed(3)}`);
    });
  });
}
