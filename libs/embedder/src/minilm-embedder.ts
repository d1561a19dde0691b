/**
 * The real Embedder: all-MiniLM-L6-v2 (384 dims, mean pooling over the attention mask, L2
 * normalised) run by transformers.js on the native onnxruntime-node backend, on the CPU.
 *
 * Batch invariance: the int8 graph quantizes activations dynamically with one scale per tensor, so
 * a text's vector would depend on the other texts (and the padding) in its run — by up to ~0.04
 * per component, measured. A vector must depend on its text only (re-embedding, dedup, batch vs
 * single in the Embedder contract), so int8 runs one text per inference by default; fp32 has no
 * such coupling and batches.
 */
import { env, mean_pooling, pipeline, type FeatureExtractionPipeline } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import { EngramError, ValidationError } from '@engram/core';
import type { Embedder, EmbeddingModelInfo } from '@engram/ports';
import { MINILM_DIMS, MINILM_MODEL_ID, modelRevision, resolveMiniLmFiles } from './model-files.js';

/** BERT's position embeddings end at 512 tokens. */
const MODEL_MAX_TOKENS = 512;

export interface MiniLmEmbedderOptions {
  /** Folder holding `Xenova/all-MiniLM-L6-v2/` (what `npm run model:fetch` fills; ENGRAM_MODEL_DIR). */
  modelDir: string;
  /**
   * int8 weights (`onnx/model_quantized.onnx`, ~3x faster to load, ~23 MB) or fp32 (`onnx/model.onnx`).
   * @default true
   */
  quantized?: boolean;
  /**
   * Texts per inference run. Above 1, int8 vectors depend on their batch neighbours (see the file
   * comment), so raise it for int8 only where that does not matter.
   * @default 1 when quantized, 32 for fp32
   */
  maxBatch?: number;
  /**
   * Token limit per text, counting the [CLS] and [SEP] markers the model adds. Texts are split
   * into lower-cased WordPiece tokens; a longer text keeps its first `maxTokens - 2` tokens and the
   * rest is ignored (right truncation), so only its beginning shapes the vector. At most 512 (the
   * model's position limit); the model was trained on up to 128 word pieces, so quality on longer
   * inputs degrades anyway.
   * @default 256
   */
  maxTokens?: number;
  /**
   * Threads onnxruntime uses inside one inference run.
   * @default onnxruntime's choice (one per core)
   */
  threads?: number;
}

/** What runs the model, for logs and for tests that must prove the native backend is in use. */
export interface MiniLmRuntimeInfo {
  backend: 'onnxruntime-node';
  /** onnxruntime-node's version. */
  version: string;
  dtype: 'q8' | 'fp32';
  executionProvider: 'cpu';
  maxBatch: number;
  maxTokens: number;
}

export interface MiniLmEmbedder extends Embedder {
  readonly runtime: MiniLmRuntimeInfo;
}

/**
 * transformers.js keeps its settings (localModelPath) in one global `env`, so loads are chained:
 * two embedders with different folders can never read each other's path mid-load.
 */
let loadChain: Promise<unknown> = Promise.resolve();

function positiveInt(name: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new ValidationError('invalid_embedder_option', `${name} must be an integer from 1 to ${max}, got ${value}`, { option: name, value });
  }
  return value;
}

async function loadPipeline(modelDir: string, dtype: 'q8' | 'fp32', threads: number | undefined): Promise<FeatureExtractionPipeline> {
  const load = loadChain.then(async () => {
    // Weights come from modelDir only: never the hub (unreachable here, and no download at run time).
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = modelDir;
    return pipeline('feature-extraction', MINILM_MODEL_ID, {
      dtype,
      device: 'cpu',
      session_options: threads === undefined ? {} : { intraOpNumThreads: threads },
    });
  });
  loadChain = load.catch(() => undefined);
  try {
    return await load;
  } catch (error) {
    throw new EngramError('model_load_failed', `could not load ${MINILM_MODEL_ID} from ${modelDir}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Proves the session runs on onnxruntime-node: onnxruntime-web ships its own onnxruntime-common,
 * so a WASM session is not an instance of the native package's InferenceSession. Both packages are
 * pinned to the same onnxruntime-node version so npm installs one copy.
 */
function assertNativeBackend(extractor: FeatureExtractionPipeline): void {
  const sessions = (extractor.model as unknown as { sessions?: Record<string, unknown> }).sessions ?? {};
  const session = sessions['model'];
  const nodeVersion = (env.backends.onnx as { versions?: Record<string, string> }).versions?.['node'];
  // onnxruntime-common types InferenceSession as a factory object, but at run time it is the class.
  const NativeSession = ort.InferenceSession as unknown as abstract new (...args: never[]) => unknown;
  if (!(session instanceof NativeSession) || nodeVersion === undefined) {
    throw new EngramError('embedder_backend_not_native', 'transformers.js did not load the model on onnxruntime-node (WASM or another backend would be far slower)', {
      details: { onnxVersions: (env.backends.onnx as { versions?: unknown }).versions },
    });
  }
}

/**
 * Loads all-MiniLM-L6-v2 from `modelDir` and returns an Embedder on the native CPU backend.
 * @throws NotFoundError `model_not_found` when the files are not there (run `npm run model:fetch`).
 * @throws ValidationError `invalid_embedder_option` for an out-of-range option.
 * @throws EngramError `model_load_failed` / `embedder_backend_not_native` when loading goes wrong.
 */
export async function createMiniLmEmbedder(options: MiniLmEmbedderOptions): Promise<MiniLmEmbedder> {
  const quantized = options.quantized ?? true;
  const maxBatch = positiveInt('maxBatch', options.maxBatch ?? (quantized ? 1 : 32));
  const maxTokens = positiveInt('maxTokens', options.maxTokens ?? 256, MODEL_MAX_TOKENS);
  if (maxTokens < 2) throw new ValidationError('invalid_embedder_option', 'maxTokens must leave room for [CLS] and [SEP]', { option: 'maxTokens', value: maxTokens });
  const threads = options.threads === undefined ? undefined : positiveInt('threads', options.threads, 256);
  const dtype = quantized ? 'q8' : 'fp32';

  const files = resolveMiniLmFiles(options.modelDir, quantized);
  const revision = await modelRevision(files.onnx);
  const extractor = await loadPipeline(options.modelDir, dtype, threads);
  try {
    assertNativeBackend(extractor);
  } catch (error) {
    await extractor.dispose();
    throw error;
  }

  const model: EmbeddingModelInfo = { id: MINILM_MODEL_ID, revision, dims: MINILM_DIMS };
  const runtime: MiniLmRuntimeInfo = { backend: 'onnxruntime-node', version: ort.env.versions.node ?? 'unknown', dtype, executionProvider: 'cpu', maxBatch, maxTokens };
  let closed = false;

  async function embedRun(texts: string[]): Promise<Float32Array[]> {
    const inputs = extractor.tokenizer(texts, { padding: true, truncation: true, max_length: maxTokens });
    const outputs = (await extractor.model(inputs)) as { last_hidden_state: Parameters<typeof mean_pooling>[0] };
    const pooled = mean_pooling(outputs.last_hidden_state, inputs['attention_mask']).normalize(2, -1);
    const data = pooled.data as Float32Array;
    return texts.map((_, i) => data.slice(i * MINILM_DIMS, (i + 1) * MINILM_DIMS));
  }

  return {
    model,
    runtime,
    async embed(texts: string[]): Promise<Float32Array[]> {
      if (closed) throw new EngramError('embedder_closed', 'the embedder was closed');
      const vectors: Float32Array[] = [];
      for (let start = 0; start < texts.length; start += maxBatch) {
        try {
          vectors.push(...(await embedRun(texts.slice(start, start + maxBatch))));
        } catch (error) {
          throw new EngramError('embedding_failed', `${MINILM_MODEL_ID} failed on a batch of ${Math.min(maxBatch, texts.length - start)} texts: ${(error as Error).message}`, { cause: error });
        }
      }
      return vectors;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await extractor.dispose();
    },
  };
}
