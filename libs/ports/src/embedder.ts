/** Embedder: text → unit-length vectors. The hashing embedder is a test double; MiniLM is the real one. */
export interface EmbeddingModelInfo {
  /** e.g. `Xenova/all-MiniLM-L6-v2`, `hash-v1`. */
  id: string;
  /** What exactly was loaded: for MiniLM the sha256 of the ONNX file, so other weights are another model. */
  revision: string;
  dims: number;
}

/**
 * A model's identity where vectors are compared: `<id>@<revision>`. Vector collections record it,
 * stored vectors carry it and queries present it, so vectors of other weights never mix with an
 * index (changing weights means re-embedding, not a silent blend).
 */
export function embeddingModelKey(model: { id: string; revision: string }): string {
  return `${model.id}@${model.revision}`;
}

export interface Embedder {
  readonly model: EmbeddingModelInfo;
  /** One vector per text, same order, each of `model.dims` and unit length. */
  embed(texts: string[]): Promise<Float32Array[]>;
  close(): Promise<void>;
}
