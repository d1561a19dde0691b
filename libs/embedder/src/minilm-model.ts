/**
 * all-MiniLM-L6-v2 in the current thread: transformers.js loads the tokenizer and the ONNX graph on
 * the native onnxruntime-node backend, and one call is one inference run (mean pooling over the
 * attention mask, then L2 normalisation). Only the inference workers (minilm-worker.ts) use this:
 * onnxruntime-node runs a session synchronously on the calling thread, which must not be the main one.
 */
import { env, pipeline, type FeatureExtractionPipeline } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import { EngramError } from '@engram/core';
import { meanPoolNormalized } from './minilm-pooling.js';
import { MINILM_MODEL_ID } from './model-files.js';
import type { MiniLmWorkerConfig } from './minilm-protocol.js';

export interface MiniLmModel {
  /** onnxruntime-node's version, proven to be the backend that runs the session. */
  readonly version: string;
  /** One run over `texts`, padded to the longest: `texts.length × 384` floats, text by text. */
  embedRun(texts: string[]): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/**
 * Proves the session runs on onnxruntime-node: onnxruntime-web ships its own onnxruntime-common,
 * so a WASM session is not an instance of the native package's InferenceSession. Both packages are
 * pinned to the same onnxruntime-node version so npm installs one copy.
 */
function assertNativeBackend(extractor: FeatureExtractionPipeline): string {
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
  return nodeVersion;
}

/**
 * Loads the model from `config.modelDir`, never from the hub.
 * @throws EngramError `model_load_failed` / `embedder_backend_not_native` when loading goes wrong.
 */
export async function loadMiniLmModel(config: MiniLmWorkerConfig): Promise<MiniLmModel> {
  // transformers.js keeps these in one global `env`: fine, as each worker loads exactly one model.
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = config.modelDir;
  let extractor: FeatureExtractionPipeline;
  try {
    extractor = await pipeline('feature-extraction', MINILM_MODEL_ID, {
      dtype: config.dtype,
      device: 'cpu',
      // One intra-op thread by default: parallelism comes from the workers, each with its own
      // session, which holds up on busy cores where intra-op threads stall waiting for each other.
      session_options: {
        intraOpNumThreads: config.threads,
        interOpNumThreads: 1,
        ...(config.spinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
      },
    });
  } catch (error) {
    throw new EngramError('model_load_failed', `could not load ${MINILM_MODEL_ID} from ${config.modelDir}: ${(error as Error).message}`, { cause: error });
  }
  let version: string;
  try {
    version = assertNativeBackend(extractor);
  } catch (error) {
    await extractor.dispose();
    throw error;
  }

  return {
    version,
    async embedRun(texts: string[]): Promise<Float32Array> {
      const inputs = extractor.tokenizer(texts, { padding: true, truncation: true, max_length: config.maxTokens });
      const outputs = (await extractor.model(inputs)) as { last_hidden_state: { data: Float32Array; dims: number[] } };
      return meanPoolNormalized(outputs.last_hidden_state.data, inputs.attention_mask.data as BigInt64Array, texts.length);
    },
    dispose: () => extractor.dispose(),
  };
}
