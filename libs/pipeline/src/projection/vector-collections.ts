/**
 * One vector collection per modality (DESIGN.md section 2): `text` is filled from the enrichment
 * worker's embeddings, the others from client-computed vectors with configured dims. The model of a
 * client modality is `client:<modality>`, so a query can only be compared with its own kind.
 */
import type { CollectionSpec, VectorIndex } from '@engram/ports';

export interface VectorCollections {
  /** Collection name for a modality, or undefined when the modality is not configured. */
  nameFor(modality: string): string | undefined;
  specs(): CollectionSpec[];
  modelFor(modality: string): string | undefined;
}

export function createVectorCollections(options: {
  textModel: { id: string; dims: number };
  clientModalities: Record<string, number>;
  /** Replay builds a new generation beside the live one. @default 1 */
  generation?: number;
}): VectorCollections {
  const g = options.generation ?? 1;
  const specs = new Map<string, CollectionSpec>();
  specs.set('text', { name: `memories_text_g${g}`, dims: options.textModel.dims, model: options.textModel.id, metric: 'cosine' });
  for (const [modality, dims] of Object.entries(options.clientModalities)) {
    specs.set(modality, { name: `memories_${modality}_g${g}`, dims, model: `client:${modality}`, metric: 'cosine' });
  }
  return {
    nameFor: (m) => specs.get(m)?.name,
    modelFor: (m) => specs.get(m)?.model,
    specs: () => [...specs.values()],
  };
}

export async function ensureCollections(index: VectorIndex, collections: VectorCollections): Promise<void> {
  for (const spec of collections.specs()) await index.ensureCollection(spec);
}
