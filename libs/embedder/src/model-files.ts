/**
 * Where the MiniLM files live on disk and how a model version is named. The weights are an external
 * asset: downloaded from the Hugging Face hub once at start-up when missing (model-download.ts), or
 * provisioned offline by `npm run model:fetch` (scripts/model-fetch.sh) — never fetched on a request.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { NotFoundError } from '@engram/core';

/** The transformers.js model id; also the folder under `modelDir` that holds the files. */
export const MINILM_MODEL_ID = 'Xenova/all-MiniLM-L6-v2';
export const MINILM_DIMS = 384;

export interface MiniLmFiles {
  /** Folder of the model: `<modelDir>/Xenova/all-MiniLM-L6-v2`. */
  dir: string;
  /** The ONNX graph for the chosen precision. */
  onnx: string;
}

/** The ONNX file name transformers.js loads for a dtype (`q8` adds `_quantized`). */
export function onnxFileName(quantized: boolean): string {
  return quantized ? 'model_quantized.onnx' : 'model.onnx';
}

/**
 * Checks that every file transformers.js needs is present, so a missing model fails with one
 * actionable error instead of a library stack trace about a URL it was not allowed to fetch.
 * @throws NotFoundError `model_not_found` naming the missing files and how to provision them.
 */
export function resolveMiniLmFiles(modelDir: string, quantized: boolean): MiniLmFiles {
  const dir = join(modelDir, MINILM_MODEL_ID);
  const onnx = join(dir, 'onnx', onnxFileName(quantized));
  const required = [join(dir, 'config.json'), join(dir, 'tokenizer.json'), join(dir, 'tokenizer_config.json'), onnx];
  const missing = required.filter((file) => !existsSync(file));
  if (missing.length > 0) {
    const fetchHint = quantized ? 'npm run model:fetch' : 'npm run model:fetch -- --fp32';
    throw new NotFoundError(
      'model_not_found',
      `embedding model ${MINILM_MODEL_ID} (${quantized ? 'int8' : 'fp32'}) not found under ${modelDir}: ` +
        `run \`${fetchHint}\` or set ENGRAM_MODEL_DIR to a folder holding ${MINILM_MODEL_ID}/`,
      { modelDir, missing },
    );
  }
  return { dir, onnx };
}

/**
 * The first 12 hex digits of the ONNX file's sha256: vectors from different weights must never be
 * mixed in one index, and a content hash catches a changed file that a version label would not.
 */
export async function modelRevision(onnxPath: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(onnxPath)) hash.update(chunk as Buffer);
  return hash.digest('hex').slice(0, 12);
}
