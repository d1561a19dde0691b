import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { tempDir } from '@engram/testing';
import { ensureMiniLmFiles } from './model-download.js';
import { MINILM_MODEL_ID } from './model-files.js';

/** A stand-in hub serving fake files at the hub's paths, recording what was asked. */
async function fakeHub(missing: string[] = []): Promise<{ url: string; asked: string[]; server: Server }> {
  const asked: string[] = [];
  const server = createServer((req, res) => {
    asked.push(req.url ?? '');
    const file = (req.url ?? '').replace(`/${MINILM_MODEL_ID}/resolve/main/`, '');
    if (missing.includes(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200).end(`contents of ${file}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked, server };
}

describe('ensureMiniLmFiles (hub download)', () => {
  const servers: Server[] = [];
  after(() => servers.forEach((s) => s.close()));

  it('downloads the missing files from the hub paths transformers.js uses, then finds them', async () => {
    const hub = await fakeHub();
    servers.push(hub.server);
    const modelDir = tempDir();
    const files = await ensureMiniLmFiles({ modelDir, quantized: true, hubUrl: hub.url });
    assert.equal(files.onnx, join(modelDir, MINILM_MODEL_ID, 'onnx', 'model_quantized.onnx'));
    assert.equal(readFileSync(files.onnx, 'utf8'), 'contents of onnx/model_quantized.onnx');
    assert.deepEqual(hub.asked.sort(), ['config.json', 'onnx/model_quantized.onnx', 'tokenizer.json', 'tokenizer_config.json'].map((f) => `/${MINILM_MODEL_ID}/resolve/main/${f}`).sort());
    // Present now: a second call asks the hub nothing.
    await ensureMiniLmFiles({ modelDir, quantized: true, hubUrl: hub.url });
    assert.equal(hub.asked.length, 4);
  });

  it('fails with model_unavailable naming the offline fix, and leaves no partial model', async () => {
    const hub = await fakeHub(['onnx/model_quantized.onnx']);
    servers.push(hub.server);
    const modelDir = tempDir();
    await assert.rejects(ensureMiniLmFiles({ modelDir, quantized: true, hubUrl: hub.url }), (error: { code?: string; message?: string }) => {
      assert.equal(error.code, 'model_unavailable');
      assert.match(error.message!, /npm run model:fetch/);
      assert.match(error.message!, /404/);
      return true;
    });
    assert.equal(existsSync(join(modelDir, MINILM_MODEL_ID, 'onnx', 'model_quantized.onnx')), false);
    assert.equal(existsSync(join(modelDir, MINILM_MODEL_ID, 'onnx', 'model_quantized.onnx.partial')), false);
  });

  it('fails fast with model_unavailable when the hub cannot be reached', async () => {
    const started = Date.now();
    await assert.rejects(ensureMiniLmFiles({ modelDir: tempDir(), quantized: true, hubUrl: 'http://127.0.0.1:9', timeoutMs: 2000 }), { code: 'model_unavailable' });
    assert.ok(Date.now() - started < 5000);
  });
});
