/**
 * One vector collection per modality (DESIGN.md section 2): `text` is filled from the enrichment
 * worker's embeddings, the others from client-computed vectors with configured dims. A collection's
 * model is the key `<id>@<revision>` of the model that fills it (embeddingModelKey): the text
 * model's id and the revision of its weights; `client:<modality>` at revision 1 for client vectors,
 * so a query can only be compared with its own kind.
 */
import { EngramError, isEngramError, type Embedding } from '@engram/core';
import { embeddingModelKey, type CollectionSpec, type EmbeddingModelInfo, type VectorIndex } from '@engram/ports';

/** The model recorded for client-computed vectors of `modality`. */
function clientModel(modality: string): { id: string; revision: string } {
  return { id: `client:${modality}`, revision: '1' };
}

/** A client-computed vector as the enrichment worker records it on the enriched event. */
export function clientEmbedding(modality: string, values: number[]): Embedding {
  const { id, revision } = clientModel(modality);
  return { modality, model: id, revision, dims: values.length, vector: Float32Array.from(values) };
}

export interface VectorCollections {
  /** Collection name for a modality, or undefined when the modality is not configured. */
  nameFor(modality: string): string | undefined;
  specs(): CollectionSpec[];
  /** The model key (`<id>@<revision>`) of a modality's collection. */
  modelFor(modality: string): string | undefined;
}

export function createVectorCollections(options: {
  textModel: EmbeddingModelInfo;
  clientModalities: Record<string, number>;
  /** Replay builds a new generation beside the live one. @default 1 */
  generation?: number;
}): VectorCollections {
  const g = options.generation ?? 1;
  const specs = new Map<string, CollectionSpec>();
  specs.set('text', { name: `memories_text_g${g}`, dims: options.textModel.dims, model: embeddingModelKey(options.textModel), metric: 'cosine' });
  for (const [modality, dims] of Object.entries(options.clientModalities)) {
    specs.set(modality, { name: `memories_${modality}_g${g}`, dims, model: embeddingModelKey(clientModel(modality)), metric: 'cosine' });
  }
  return {
    nameFor: (m) => specs.get(m)?.name,
    modelFor: (m) => specs.get(m)?.model,
    specs: () => [...specs.values()],
  };
}

/**
 * Creates the collections, or checks that the existing ones were built for the same models. A
 * collection filled by other weights (a new model, or the same id with another revision) is refused
 * with `embedding_model_changed`: its vectors cannot be compared with the new model's, and mixing
 * them would return garbage. Re-embedding is a rebuild from the log into a new generation.
 */
export async function ensureCollections(index: VectorIndex, collections: VectorCollections): Promise<void> {
  for (const spec of collections.specs()) {
    try {
      await index.ensureCollection(spec);
    } catch (error) {
      const existing = isEngramError(error) && error.code === 'collection_spec_mismatch' ? (error.details?.existing as CollectionSpec | undefined) : undefined;
      if (existing === undefined || existing.model === spec.model) throw error;
      throw new EngramError(
        'embedding_model_changed',
        `vector collection ${spec.name} holds vectors of ${existing.model}, but the configured model is ${spec.model}: ` +
          'vectors of different weights cannot be compared. Start with the model files that built the index ' +
          '(ENGRAM_MODEL_DIR, ENGRAM_MODEL_PRECISION), or rebuild the index from the log with the new model (a new data directory)',
        { details: { collection: spec.name, indexed: existing.model, configured: spec.model } },
      );
    }
  }
}
