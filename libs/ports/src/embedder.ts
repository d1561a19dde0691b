/** Embedder: text → unit-length vectors. The hashing embedder is a test double; MiniLM is the real one. */
export interface EmbeddingModelInfo {
  /** e.g. `Xenova/all-MiniLM-L6-v2`, `hash-v1`. */
  id: string;
  revision: string;
  dims: number;
}

export interface Embedder {
  readonly model: EmbeddingModelInfo;
  /** One vector per text, same order, each of `model.dims` and unit length. */
  embed(texts: string[]): Promise<Float32Array[]>;
  close(): Promise<void>;
}
