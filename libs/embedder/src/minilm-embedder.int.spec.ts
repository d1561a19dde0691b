/**
 * MiniLM on the real model files (an external asset: `npm run model:fetch`, then ENGRAM_MODEL_DIR).
 * Without the model every test here skips with that reason; under ENGRAM_REQUIRE_ENGINES=1 it fails.
 */
import { describe, it, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
// Test support only (the spec, not the adapter, uses it); the tag rule is written for product code.
import { embedderContract, requireEngine, withEngine } from '@engram/testing';
import { createMiniLmEmbedder, type MiniLmEmbedder } from './minilm-embedder.js';
import { MINILM_MODEL_ID, modelRevision } from './model-files.js';

const SETTING = 'ENGRAM_MODEL_DIR';

function cosine(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] as number) * (b[i] as number);
  return sum;
}

withEngine('Embedder contract: MiniLM int8', 'model', SETTING, (modelDir) => {
  embedderContract('MiniLM int8', () => createMiniLmEmbedder({ modelDir }));
});

withEngine('Embedder contract: MiniLM fp32', 'model', SETTING, (modelDir) => {
  const fp32 = path.join(modelDir, MINILM_MODEL_ID, 'onnx', 'model.onnx');
  if (fs.existsSync(fp32)) {
    embedderContract('MiniLM fp32 (batched)', () => createMiniLmEmbedder({ modelDir, quantized: false }));
  } else {
    it('Embedder contract: MiniLM fp32 (batched)', (t) => {
      t.skip(`fp32 weights not provisioned (${fp32}): run \`npm run model:fetch -- --fp32\``);
    });
  }
});

describe('MiniLM embedder on the real model', () => {
  let shared: Promise<MiniLmEmbedder> | undefined;
  const opened: Promise<MiniLmEmbedder>[] = [];
  function open(modelDir: string, options: { maxTokens?: number; maxBatch?: number; workers?: number; soloThreads?: number } = {}): Promise<MiniLmEmbedder> {
    const embedder = createMiniLmEmbedder({ modelDir, ...options });
    opened.push(embedder);
    return embedder;
  }
  /** The int8 embedder the tests share, or undefined once the test is marked skipped. */
  function embedderFor(t: TestContext): Promise<MiniLmEmbedder> | undefined {
    const modelDir = requireEngine(t, 'model', SETTING);
    if (modelDir === undefined) return undefined;
    shared ??= open(modelDir);
    return shared;
  }
  after(async () => {
    for (const embedder of await Promise.all(opened)) await embedder.close();
  });

  it('ranks the paraphrase first among unrelated sentences', async (t) => {
    const embedder = await embedderFor(t);
    if (embedder === undefined) return;
    const candidates = ['Quarterly earnings beat expectations', 'The train leaves at noon', 'The cat sat on the mat', 'How to bake sourdough bread'];
    const [query, ...vectors] = await embedder.embed(['a kitten resting on a rug', ...candidates]);
    const scores = vectors.map((v, i) => ({ text: candidates[i], score: cosine(query as Float32Array, v) }));
    scores.sort((a, b) => b.score - a.score);
    assert.equal(scores[0]?.text, 'The cat sat on the mat', JSON.stringify(scores));
    assert.ok((scores[0]?.score ?? 0) > (scores[1]?.score ?? 0) + 0.1, JSON.stringify(scores));
  });

  it('returns 384-d unit vectors and names the model by the hash of its weights', async (t) => {
    const embedder = await embedderFor(t);
    if (embedder === undefined) return;
    const modelDir = requireEngine(t, 'model', SETTING) as string;
    const [vector] = await embedder.embed(['Agents share memories through an event log']);
    assert.equal(vector?.length, 384);
    assert.ok(Math.abs(Math.sqrt(cosine(vector as Float32Array, vector as Float32Array)) - 1) < 1e-5);
    assert.equal(embedder.model.id, 'Xenova/all-MiniLM-L6-v2');
    assert.equal(embedder.model.dims, 384);
    assert.match(embedder.model.revision, /^[0-9a-f]{12}$/);
    assert.equal(embedder.model.revision, await modelRevision(path.join(modelDir, MINILM_MODEL_ID, 'onnx', 'model_quantized.onnx')));
  });

  it('gives bit-identical vectors for identical text, in one call and across calls', async (t) => {
    const embedder = await embedderFor(t);
    if (embedder === undefined) return;
    const text = 'The deploy failed because the disk was full';
    const [a, b, other] = await embedder.embed([text, text, 'Something else entirely']);
    const [c] = await embedder.embed([text]);
    assert.deepEqual(a, b);
    assert.deepEqual(a, c);
    assert.notDeepEqual(a, other);
  });

  it('gives a text embedded alone (the solo worker, several threads) the same bits as inside a batch', async (t) => {
    const modelDir = requireEngine(t, 'model', SETTING);
    if (modelDir === undefined) return;
    const embedder = await open(modelDir, { soloThreads: 2 });
    assert.equal(embedder.runtime.soloThreads, 2);
    const texts = Array.from({ length: 24 }, (_, i) =>
      i % 3 === 0 ? `${'the planner wrote a task list that the executor reads '.repeat(8)}${i}` : `memory number ${i}: the user prefers ${['tea', 'coffee', 'water'][i % 3]} in the morning`,
    );
    const together = await embedder.embed(texts);
    for (const [i, text] of texts.entries()) {
      const [alone] = await embedder.embed([text]);
      assert.deepEqual(alone, together[i], `text ${i}: a lone run and a batched run must give identical vectors`);
    }
  });

  it('runs on native onnxruntime-node on the CPU, not WASM', async (t) => {
    const embedder = await embedderFor(t);
    if (embedder === undefined) return;
    assert.equal(embedder.runtime.backend, 'onnxruntime-node');
    assert.equal(embedder.runtime.executionProvider, 'cpu');
    assert.equal(embedder.runtime.version, ort.env.versions.node);
    assert.equal(embedder.runtime.dtype, 'q8');
    assert.ok(ort.listSupportedBackends().some((b) => b.name === 'cpu'), 'native binding lists the cpu provider');
    // Parallelism from worker threads with single-threaded sessions (bench/results/embedder.md).
    assert.equal(embedder.runtime.workers, Math.min(availableParallelism(), 4));
    assert.equal(embedder.runtime.threads, 1);
    assert.equal(embedder.runtime.soloThreads, availableParallelism() >= 2 ? Math.min(availableParallelism(), 4) : 0);
  });

  it('keeps the main event loop turning while a long inference run is under way', async (t) => {
    const modelDir = requireEngine(t, 'model', SETTING);
    if (modelDir === undefined) return;
    // One worker, one run of 48 long texts: a few hundred ms of inference, which on the main thread
    // would be one uninterrupted stall.
    const embedder = await open(modelDir, { maxBatch: 48, workers: 1 });
    const texts = Array.from({ length: 48 }, (_, i) => `${'agents share memories through an event log '.repeat(12)}${i}`);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 2);
    try {
      const vectors = await embedder.embed(texts);
      assert.equal(vectors.length, 48);
    } finally {
      clearInterval(timer);
    }
    assert.ok(ticks >= 5, `timer fired ${ticks} times during the run`);
  });

  it('gives concurrent calls the same vectors as calls one after another', async (t) => {
    const embedder = await embedderFor(t);
    if (embedder === undefined) return;
    const batches = [['alpha release notes', 'the disk is full'], ['a kitten on a rug'], ['quarterly revenue', 'noon train', 'sourdough bread']];
    const sequential: Float32Array[][] = [];
    for (const batch of batches) sequential.push(await embedder.embed(batch));
    assert.deepEqual(await Promise.all(batches.map((batch) => embedder.embed(batch))), sequential);
  });

  it('lets a single text through ahead of a large call already queued (callers take turns)', async (t) => {
    const embedder = await embedderFor(t);
    if (embedder === undefined) return;
    const finished: string[] = [];
    const large = embedder.embed(Array.from({ length: 60 }, (_, i) => `enrichment batch text number ${i} about deploys`)).then(() => finished.push('large'));
    const query = embedder.embed(['a search query']).then(() => finished.push('query'));
    await Promise.all([large, query]);
    assert.deepEqual(finished, ['query', 'large']);
  });

  it('lets close finish, then refuses new calls with embedder_closed', async (t) => {
    const modelDir = requireEngine(t, 'model', SETTING);
    if (modelDir === undefined) return;
    const embedder = await open(modelDir, { workers: 1 });
    const inFlight = embedder.embed(Array.from({ length: 16 }, (_, i) => `text number ${i}`)).then(
      (vectors) => String(vectors.length),
      (error: unknown) => String((error as { code?: string }).code),
    );
    await embedder.close();
    // Runs already handed to a worker finish; the queued rest of the call fails as closed.
    const outcome = await inFlight;
    assert.ok(['16', 'embedder_closed'].includes(outcome), outcome);
    await assert.rejects(embedder.embed(['after close']), (error: unknown) => (error as { code?: string }).code === 'embedder_closed');
  });

  it('truncates at maxTokens: only the first maxTokens - 2 word pieces count', async (t) => {
    const modelDir = requireEngine(t, 'model', SETTING);
    if (modelDir === undefined) return;
    const short = await open(modelDir, { maxTokens: 16, workers: 1 });
    // 20 single-token words: past the 14 word pieces a 16-token limit keeps.
    const head = 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty';
    const [cut, cutWithTail] = await short.embed([head, `${head} and a completely different ending about volcanoes`]);
    assert.deepEqual(cut, cutWithTail, 'text past the limit is ignored');
    const embedder = await embedderFor(t);
    if (embedder === undefined) return;
    const [full, fullWithTail] = await embedder.embed([head, `${head} and a completely different ending about volcanoes`]);
    assert.notDeepEqual(full, fullWithTail, 'under the default 256 the tail counts');
  });
});
