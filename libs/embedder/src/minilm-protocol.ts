/**
 * Messages between the MiniLM embedder (main thread, minilm-worker-pool.ts) and its inference
 * workers (minilm-worker.ts). A worker answers `ready` once its model is loaded (or `failed`, and
 * ends), then exactly one response per `embed` request, with the request's id. Vectors come back packed in one
 * Float32Array whose buffer is transferred, not copied.
 */
import type { WireError } from '@engram/core';

/** `workerData` of an inference worker. */
export interface MiniLmWorkerConfig {
  modelDir: string;
  dtype: 'q8' | 'fp32';
  /** onnxruntime's intra-op threads for this worker's session. */
  threads: number;
  /** Whether onnxruntime's intra-op threads spin while waiting for work (its default: true). */
  spinning?: boolean;
  maxTokens: number;
}

/** What the worker found out while loading, for the embedder's `runtime`. */
export interface MiniLmWorkerReady {
  /** onnxruntime-node's version as the session that runs the model reports it. */
  version: string;
}

export type WorkerRequest =
  /** One inference run over `texts` (padded to the longest); answers `texts.length × dims` floats. */
  | { id: number; op: 'embed'; texts: string[] }
  /** Releases the session and closes the port, which ends the worker. */
  | { id: number; op: 'close' };

export type WorkerMessage =
  | { type: 'ready'; info: MiniLmWorkerReady }
  | { type: 'failed'; error: WireError }
  | { type: 'result'; id: number; vectors: Float32Array }
  | { type: 'error'; id: number; error: WireError };
