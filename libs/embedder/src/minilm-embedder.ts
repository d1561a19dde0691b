/**
 * The real Embedder: all-MiniLM-L6-v2 (384 dims, mean pooling over the attention mask, L2
 * normalised) run by transformers.js on the native onnxruntime-node backend, on the CPU, in worker
 * threads: onnxruntime-node runs a session synchronously on the calling thread, so inference on
 * the main thread would stall every request for milliseconds per text.
 *
 * Throughput: several workers, each with a single-threaded session, run different texts at the
 * same time. Measured on 2 shared cores (bench/results/embedder.md), that beats one session with
 * two intra-op threads, whose threads wait on each other whenever one is descheduled. A lone run
 * (a call that is one run: a search query, a single new memory) goes instead to one more worker
 * whose session has an intra-op thread per core, when no worker is busy: one text then finishes
 * ~1.3x sooner on idle cores, the latency a search waits for (next to busy workers its threads
 * would only fight them for the cores, which measured 5x worse freshness under load). Its vectors are bit-identical to the
 * single-threaded sessions' (tested: the work is split by output rows, not reordered).
 *
 * Batch invariance: the int8 graph quantizes activations dynamically with one scale per tensor, so
 * a text's vector would depend on the other texts (and the padding) in its run — by up to ~0.04
 * per component, measured. A vector must depend on its text only (re-embedding, dedup, batch vs
 * single in the Embedder contract), so int8 runs one text per inference by default; fp32 has no
 * such coupling and batches.
 */
import { availableParallelism } from 'node:os';
import { EngramError, ValidationError, isEngramError } from '@engram/core';
import type { Embedder, EmbeddingModelInfo } from '@engram/ports';
import { planRuns } from './minilm-batches.js';
import { createMiniLmWorkerPool } from './minilm-worker-pool.js';
import { MINILM_DIMS, MINILM_MODEL_ID, modelRevision, resolveMiniLmFiles } from './model-files.js';

/** BERT's position embeddings end at 512 tokens. */
const MODEL_MAX_TOKENS = 512;

/** Default worker cap: each worker holds a copy of the model, and the server has other work too. */
const DEFAULT_MAX_WORKERS = 4;

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
   * Worker threads running inference, each with its own onnxruntime session (and copy of the
   * model, ~23 MB int8, ~90 MB fp32). Texts of one call, and concurrent calls, are spread over them.
   * @default one per core, at most 4
   */
  workers?: number;
  /**
   * Threads onnxruntime uses inside one inference run, per worker.
   * @default 1
   */
  threads?: number;
  /** Whether onnxruntime's intra-op threads spin while they wait (its default). @default true */
  spinning?: boolean;
  /**
   * Intra-op threads of one more worker that takes lone runs (a call that is a single run, such as
   * a search query) while no worker is busy: one text then uses several cores instead of one (on 2 idle
   * cores 2 threads embed a short text ~1.5x sooner), while batches keep the single-threaded
   * workers, which hold up better on busy cores. 0: no such worker.
   * @default the cores (at most 4) when there are at least 2, else 0
   */
  soloThreads?: number;
}

/** What runs the model, for logs and for tests that must prove the native backend is in use. */
export interface MiniLmRuntimeInfo {
  backend: 'onnxruntime-node';
  /** onnxruntime-node's version, as reported by the workers' sessions. */
  version: string;
  dtype: 'q8' | 'fp32';
  executionProvider: 'cpu';
  maxBatch: number;
  maxTokens: number;
  /** Inference worker threads, each with its own session. */
  workers: number;
  /** onnxruntime intra-op threads per session. */
  threads: number;
  /** Intra-op threads of the worker for lone runs (0: none). */
  soloThreads: number;
}

export interface MiniLmEmbedder extends Embedder {
  readonly runtime: MiniLmRuntimeInfo;
}

function positiveInt(name: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new ValidationError('invalid_embedder_option', `${name} must be an integer from 1 to ${max}, got ${value}`, { option: name, value });
  }
  return value;
}

/**
 * Loads all-MiniLM-L6-v2 from `modelDir` into worker threads and returns an Embedder on the native
 * CPU backend.
 * @throws NotFoundError `model_not_found` when the files are not there (run `npm run model:fetch`).
 * @throws ValidationError `invalid_embedder_option` for an out-of-range option.
 * @throws EngramError `model_load_failed` / `embedder_backend_not_native` when loading goes wrong.
 */
export async function createMiniLmEmbedder(options: MiniLmEmbedderOptions): Promise<MiniLmEmbedder> {
  const quantized = options.quantized ?? true;
  const maxBatch = positiveInt('maxBatch', options.maxBatch ?? (quantized ? 1 : 32));
  const maxTokens = positiveInt('maxTokens', options.maxTokens ?? 256, MODEL_MAX_TOKENS);
  if (maxTokens < 2) throw new ValidationError('invalid_embedder_option', 'maxTokens must leave room for [CLS] and [SEP]', { option: 'maxTokens', value: maxTokens });
  const workers = positiveInt('workers', options.workers ?? Math.min(availableParallelism(), DEFAULT_MAX_WORKERS), 64);
  const threads = positiveInt('threads', options.threads ?? 1, 256);
  const cores = availableParallelism();
  const wantedSolo = options.soloThreads ?? (cores >= 2 ? Math.min(cores, DEFAULT_MAX_WORKERS) : 0);
  const soloThreads = wantedSolo === 0 ? 0 : positiveInt('soloThreads', wantedSolo, 256);
  const dtype = quantized ? 'q8' : 'fp32';

  const files = resolveMiniLmFiles(options.modelDir, quantized);
  const revision = await modelRevision(files.onnx);
  const config = { modelDir: options.modelDir, dtype, threads, maxTokens, spinning: options.spinning ?? true } as const;
  const solo = soloThreads > 0 ? { ...config, threads: soloThreads, spinning: true } : undefined;
  const pool = createMiniLmWorkerPool({ size: workers, config, ...(solo === undefined ? {} : { solo }) });
  const { version } = await pool.start();

  const model: EmbeddingModelInfo = { id: MINILM_MODEL_ID, revision, dims: MINILM_DIMS };
  const runtime: MiniLmRuntimeInfo = { backend: 'onnxruntime-node', version, dtype, executionProvider: 'cpu', maxBatch, maxTokens, workers, threads, soloThreads };
  let closed = false;

  function failure(error: unknown, texts: number): unknown {
    if (isEngramError(error)) return error;
    return new EngramError('embedding_failed', `${MINILM_MODEL_ID} failed on a run of ${texts} texts: ${(error as Error).message}`, { cause: error });
  }

  return {
    model,
    runtime,
    async embed(texts: string[]): Promise<Float32Array[]> {
      if (closed) throw new EngramError('embedder_closed', 'the embedder was closed');
      const vectors = new Array<Float32Array>(texts.length);
      const runs = planRuns(texts, maxBatch, workers);
      const answers = pool.submit(runs.map((run) => run.map((i) => texts[i] as string)));
      await Promise.all(
        runs.map(async (run, r) => {
          const packed = await (answers[r] as Promise<Float32Array>).catch((error: unknown) => {
            throw failure(error, run.length);
          });
          // Copies, not views: each vector owns its buffer, as callers may keep or transfer one.
          run.forEach((index, j) => (vectors[index] = packed.slice(j * MINILM_DIMS, (j + 1) * MINILM_DIMS)));
        }),
      );
      return vectors;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await pool.close();
    },
  };
}
