/**
 * `engram start` with the real sentence model (ENGRAM_EMBEDDER=minilm): a query that shares no word
 * with a memory finds it first. Needs the model (`npm run model:fetch`, or engines:up): skipped with
 * the reason without it, a failure under ENGRAM_REQUIRE_ENGINES=1.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { apiClient, removeDataDir, requireEngine, startEngramProcess } from '@engram/testing';

type Json = Record<string, unknown>;

describe('engram start with MiniLM', () => {
  it('ranks "The cat sat on the mat" first for "a kitten resting on a rug"', async (t) => {
    const modelDir = requireEngine(t, 'model', 'ENGRAM_MODEL_DIR');
    if (modelDir === undefined) return;
    const engram = await startEngramProcess({ env: { ENGRAM_API_KEYS: 'm:key-m', ENGRAM_EMBEDDER: 'minilm', ENGRAM_MODEL_DIR: modelDir } });
    try {
      const api = apiClient(engram.baseUrl, 'key-m');
      const texts = { cat: 'The cat sat on the mat', money: 'Quarterly earnings beat expectations', train: 'The train leaves at noon', bread: 'How to bake sourdough bread' };
      const write = await api<Json>('POST', '/v1/events', { events: Object.entries(texts).map(([key, text]) => ({ type: 'MemoryWritten', namespace: 'pets', key, value: key, text })) });
      assert.equal(write.status, 202);
      const found = await api<Json>('POST', '/v1/search', { query: 'a kitten resting on a rug', mode: 'vector', k: 4, consistentWith: write.body.token });
      assert.equal(found.status, 200);
      const results = found.body.results as Json[];
      assert.equal(results[0]!.key, 'cat');
      // The model's identity: its id and the revision of the weights (a hash of the ONNX file).
      assert.match(results[0]!.embeddingModel as string, /^Xenova\/all-MiniLM-L6-v2@[0-9a-f]{12}$/);
      assert.ok((results[0]!.score as number) > (results[1]!.score as number) + 0.1);
    } finally {
      assert.equal(await engram.stop(), 0);
    }

    try {
      // Other weights of the same model (fp32 instead of int8) on the same data: refused at start-up,
      // never a silent mix of vectors that cannot be compared.
      const refused = await startEngramProcess({
        dataDir: engram.dataDir,
        env: { ENGRAM_API_KEYS: 'm:key-m', ENGRAM_EMBEDDER: 'minilm', ENGRAM_MODEL_DIR: modelDir, ENGRAM_MODEL_PRECISION: 'fp32' },
      }).then(
        async (started) => (await started.stop(), 'started'),
        (error: Error) => error.message,
      );
      assert.match(refused, /embedding_model_changed/);
      assert.match(refused, /Xenova\/all-MiniLM-L6-v2@[0-9a-f]{12}, but the configured model is Xenova\/all-MiniLM-L6-v2@[0-9a-f]{12}/);
    } finally {
      removeDataDir(engram.dataDir);
    }
  });
});
