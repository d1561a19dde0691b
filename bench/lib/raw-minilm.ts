/**
 * The baseline for the embedder benchmark: all-MiniLM-L6-v2 straight on an onnxruntime-node
 * InferenceSession, in the calling thread, with the tokenizer transformers.js loads from the same
 * folder. One call is one `session.run` over the whole batch (padded to its longest text), then
 * mean pooling over the attention mask and L2 normalisation, written out by hand. For the int8
 * graph that batching makes a text's vector depend on its neighbours (activations are quantized per
 * tensor): the raw path is allowed that, Engram's embedder is not.
 */
import { join } from 'node:path';
import { AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';

const MODEL_ID = 'Xenova/all-MiniLM-L6-v2';
const DIMS = 384;

export interface RawMiniLmOptions {
  /** Folder holding `Xenova/all-MiniLM-L6-v2/`. */
  modelDir: string;
  quantized: boolean;
  /** onnxruntime's intra-op threads; undefined leaves onnxruntime's default (one per core). */
  threads?: number;
  maxTokens: number;
}

export interface RawMiniLm {
  /** One unit vector per text, in one inference run. */
  embed(texts: string[]): Promise<Float32Array[]>;
  /** Tokens of one text, [CLS] and [SEP] included. */
  countTokens(text: string): number;
  close(): Promise<void>;
}

export async function loadTokenizer(modelDir: string): Promise<PreTrainedTokenizer> {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = modelDir;
  return AutoTokenizer.from_pretrained(MODEL_ID);
}

export async function createRawMiniLm(options: RawMiniLmOptions): Promise<RawMiniLm> {
  const tokenizer = await loadTokenizer(options.modelDir);
  const file = join(options.modelDir, MODEL_ID, 'onnx', options.quantized ? 'model_quantized.onnx' : 'model.onnx');
  const session = await ort.InferenceSession.create(file, options.threads === undefined ? {} : { intraOpNumThreads: options.threads });

  return {
    async embed(texts: string[]): Promise<Float32Array[]> {
      const encoded = tokenizer(texts, { padding: true, truncation: true, max_length: options.maxTokens });
      const ids = encoded.input_ids;
      const mask = encoded.attention_mask.data as BigInt64Array;
      const feeds = {
        input_ids: new ort.Tensor('int64', ids.data as BigInt64Array, ids.dims),
        attention_mask: new ort.Tensor('int64', mask, ids.dims),
        // BERT's segment ids: all 0 for a single sentence.
        token_type_ids: new ort.Tensor('int64', new BigInt64Array(mask.length), ids.dims),
      };
      const output = (await session.run(feeds))['last_hidden_state'] as ort.Tensor;
      const hidden = output.data as Float32Array;
      const length = output.dims[1] as number;
      return texts.map((_, b) => {
        const vector = new Float32Array(DIMS);
        let tokens = 0;
        for (let t = 0; t < length; t++) {
          if (mask[b * length + t] === 0n) continue;
          tokens++;
          const base = (b * length + t) * DIMS;
          for (let d = 0; d < DIMS; d++) vector[d] = (vector[d] as number) + (hidden[base + d] as number);
        }
        let norm = 0;
        for (let d = 0; d < DIMS; d++) {
          vector[d] = (vector[d] as number) / Math.max(tokens, 1);
          norm += (vector[d] as number) ** 2;
        }
        norm = Math.sqrt(norm) || 1;
        for (let d = 0; d < DIMS; d++) vector[d] = (vector[d] as number) / norm;
        return vector;
      });
    },
    countTokens: (text) => tokenizer(text, { truncation: false }).input_ids.dims.at(-1) as number,
    close: () => session.release(),
  };
}
