/**
 * Turns the entities a batch changed into version-guarded upserts and deletes per vector collection.
 * A changed entity is re-upserted even when only its metadata changed, so filters (tags, agentId…)
 * always see the current fields; the vector itself comes from the batch or from the stored copy.
 */
import { hlcWallMs, type MemoryState } from '@engram/core';
import type { VectorFields, VectorIndex, VectorItem } from '@engram/ports';
import type { VectorCollections } from './vector-collections.js';

/** modality → the entity's current vector (as stored in KV under `v|<entityId>`). */
export type StoredEmbeddings = Record<string, { model: string; vector: number[] }>;

export function vectorFields(state: MemoryState): VectorFields {
  return {
    tenant: state.tenant,
    namespace: state.namespace,
    kind: state.kind,
    agentId: state.metadata.agentId,
    sessionId: state.metadata.sessionId,
    tags: state.metadata.tags,
    updatedAt: hlcWallMs(state.hlc),
  };
}

export async function planVectorUpdates(
  deps: { vectors: VectorIndex; collections: VectorCollections },
  changed: Array<{ entityId: string; after: MemoryState | undefined; embeddings: StoredEmbeddings | undefined }>,
): Promise<void> {
  const upserts = new Map<string, VectorItem[]>();
  const deletes = new Map<string, Array<{ id: string; version: number }>>();
  const push = <T>(map: Map<string, T[]>, collection: string, item: T) => {
    const list = map.get(collection) ?? [];
    list.push(item);
    map.set(collection, list);
  };
  for (const { entityId, after, embeddings } of changed) {
    if (!after || !embeddings) continue;
    for (const [modality, stored] of Object.entries(embeddings)) {
      const collection = deps.collections.nameFor(modality);
      if (!collection) continue;
      if (after.deleted) {
        push(deletes, collection, { id: entityId, version: after.version });
      } else {
        push(upserts, collection, { id: entityId, vector: Float32Array.from(stored.vector), version: after.version, fields: vectorFields(after) });
      }
    }
  }
  for (const [collection, items] of upserts) await deps.vectors.upsert(collection, items);
  for (const [collection, items] of deletes) await deps.vectors.delete(collection, items);
}
