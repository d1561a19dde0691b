/**
 * The worker pool without the real model: what crosses the thread boundary when a worker cannot
 * load, and that nothing is left running afterwards.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isEngramError } from '@engram/core';
import { createMiniLmEmbedder } from './minilm-embedder.js';
import { createMiniLmWorkerPool } from './minilm-worker-pool.js';
import { MINILM_MODEL_ID, onnxFileName } from './model-files.js';

describe('MiniLM worker pool', () => {
  let modelDir: string;
  before(() => {
    modelDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-'));
    // Every file the embedder checks for is there, but the graph is not an ONNX model.
    const files = path.join(modelDir, MINILM_MODEL_ID);
    fs.mkdirSync(path.join(files, 'onnx'), { recursive: true });
    for (const name of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) fs.writeFileSync(path.join(files, name), '{}');
    fs.writeFileSync(path.join(files, 'onnx', onnxFileName(true)), 'not a model');
  });
  after(() => {
    fs.rmSync(modelDir, { recursive: true, force: true });
  });

  it('reports a worker that cannot load the model as model_load_failed, from the embedder factory', async () => {
    await assert.rejects(createMiniLmEmbedder({ modelDir, workers: 2 }), (error: unknown) => {
      assert.ok(isEngramError(error), String(error));
      assert.equal(error.code, 'model_load_failed');
      assert.match(error.message, /Xenova\/all-MiniLM-L6-v2/);
      return true;
    });
  });

  it('fails runs queued on a pool whose only worker could not load, instead of leaving them waiting', async () => {
    const pool = createMiniLmWorkerPool({ size: 1, config: { modelDir, dtype: 'q8', threads: 1, maxTokens: 16 } });
    // No start(): the first run starts the worker, which fails to load.
    const [first, second] = pool.submit([['hello'], ['world']]);
    await assert.rejects(first as Promise<Float32Array>, (error: unknown) => isEngramError(error) && error.code === 'model_load_failed');
    await assert.rejects(second as Promise<Float32Array>, (error: unknown) => isEngramError(error) && error.code === 'model_load_failed');
    await pool.close();
    const [late] = pool.submit([['hello']]);
    await assert.rejects(late as Promise<Float32Array>, (error: unknown) => isEngramError(error) && error.code === 'embedder_closed');
  });
});
