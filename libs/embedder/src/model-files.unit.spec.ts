import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isEngramError } from '@engram/core';
import { createMiniLmEmbedder } from './minilm-embedder.js';
import { MINILM_MODEL_ID, modelRevision, onnxFileName, resolveMiniLmFiles } from './model-files.js';

function hasCode(code: string): (error: unknown) => boolean {
  return (error) => isEngramError(error) && error.code === code;
}

describe('MiniLM model files', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('says how to provision the model when the folder is empty', async () => {
    assert.throws(() => resolveMiniLmFiles(dir, true), (error: unknown) => {
      assert.ok(hasCode('model_not_found')(error));
      assert.match((error as Error).message, /npm run model:fetch/);
      assert.match((error as Error).message, /ENGRAM_MODEL_DIR/);
      return true;
    });
    await assert.rejects(createMiniLmEmbedder({ modelDir: dir }), hasCode('model_not_found'));
  });

  it('asks for the fp32 file only when fp32 is chosen, and names what is missing', () => {
    const modelDir = path.join(dir, 'only-int8');
    const files = path.join(modelDir, MINILM_MODEL_ID);
    fs.mkdirSync(path.join(files, 'onnx'), { recursive: true });
    for (const name of ['config.json', 'tokenizer.json', 'tokenizer_config.json', `onnx/${onnxFileName(true)}`]) fs.writeFileSync(path.join(files, name), '{}');
    assert.equal(resolveMiniLmFiles(modelDir, true).onnx, path.join(files, 'onnx', 'model_quantized.onnx'));
    assert.throws(() => resolveMiniLmFiles(modelDir, false), (error: unknown) => {
      assert.ok(hasCode('model_not_found')(error));
      assert.match((error as Error).message, /--fp32/);
      assert.deepEqual((error as { details?: { missing?: string[] } }).details?.missing, [path.join(files, 'onnx', 'model.onnx')]);
      return true;
    });
  });

  it('names a model version by the first 12 hex digits of its sha256', async () => {
    const file = path.join(dir, 'weights.onnx');
    const bytes = Buffer.from('not really a model, but bytes all the same');
    fs.writeFileSync(file, bytes);
    const expected = createHash('sha256').update(bytes).digest('hex').slice(0, 12);
    assert.equal(await modelRevision(file), expected);
    fs.appendFileSync(file, '!');
    assert.notEqual(await modelRevision(file), expected);
  });

  it('rejects out-of-range options before touching the disk', async () => {
    await assert.rejects(createMiniLmEmbedder({ modelDir: dir, maxTokens: 513 }), hasCode('invalid_embedder_option'));
    await assert.rejects(createMiniLmEmbedder({ modelDir: dir, maxTokens: 1 }), hasCode('invalid_embedder_option'));
    await assert.rejects(createMiniLmEmbedder({ modelDir: dir, maxBatch: 0 }), hasCode('invalid_embedder_option'));
  });
});
