import { fileURLToPath } from 'node:url';

/** Where the benches find the sentence model: ENGRAM_MODEL_DIR, else the repo's `.cache/models` (`npm run model:fetch`). */
export function benchModelDir(): string {
  return process.env['ENGRAM_MODEL_DIR'] ?? fileURLToPath(new URL('../../.cache/models', import.meta.url));
}
