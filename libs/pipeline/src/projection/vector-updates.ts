/**
 * Turns changed entities into version-guarded upserts and deletes per vector collection. A changed
 * entity is re-upserted even when only its metadata changed, so filters (tags, agentId…) always see
 * the current fields; the vector comes from the copy the projection stored in KV.
 *
 * A stored vector goes into a collection only when it was made by the collection's model (same id
 * and revision, see vector-collections.ts); others are skipped and counted. An entity whose text has
 * no usable vector (enrichment failed, empty text, another model) is removed from the text
 * collection, so an older text's vector never answers for the current one.
 */
import { hlcWallMs, type MemoryState } from '@engram/core';
import type { VectorFields, VectorIndex, VectorItem } from '@engram/ports';
import type { VectorCollections } from './vector-collections.js';

/**
 * modality → the entity's current vector (as stored in KV under `v|<entityId>`; base64 float32 LE),
 * with the key (`<id>@<revision>`) of the model that made it.
 */
export type StoredEmbeddings = Record<string, { model: string; vector: string }>;

export interface VectorUpdateResult {
  /** Stored vectors left out because their model is not their collection's. */
  skippedModelMismatch: number;
}

export function encodeVector(vector: Float32Array): string {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');
}

export function decodeVector(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  // Copy into an aligned buffer: a Float32Array view needs a 4-byte-aligned offset.
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

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

export async function applyVectorUpdates(
  deps: { vectors: VectorIndex; collections: VectorCollections },
  changed: Array<{
    entityId: string;
    after: MemoryState | undefined;
    embeddings: StoredEmbeddings | undefined;
    /**
     * The entity was deleted at some point covered by this update. Its state may already show a later
     * rewrite, so the vectors of the deleted text are removed from every collection it has no current
     * vector in (only then: a delete leaves a tombstone, too costly for every update). @default false
     */
    deletedBefore?: boolean;
  }>,
): Promise<VectorUpdateResult> {
  let skippedModelMismatch = 0;
  const upserts = new Map<string, VectorItem[]>();
  const deletes = new Map<string, Array<{ id: string; version: number }>>();
  const push = <T>(map: Map<string, T[]>, collection: string, item: T) => {
    const list = map.get(collection) ?? [];
    list.push(item);
    map.set(collection, list);
  };
  for (const { entityId, after, embeddings, deletedBefore } of changed) {
    if (!after) continue;
    const current = new Set<string>();
    for (const [modality, stored] of after.deleted ? [] : Object.entries(embeddings ?? {})) {
      const collection = deps.collections.nameFor(modality);
      if (!collection) continue;
      if (stored.model !== deps.collections.modelFor(modality)) {
        skippedModelMismatch++;
        continue;
      }
      current.add(collection);
      push(upserts, collection, { id: entityId, vector: decodeVector(stored.vector), version: after.version, fields: vectorFields(after) });
    }
    if (after.deleted || deletedBefore) {
      // Every other collection: the entity may have had vectors of any modality before it was deleted.
      for (const spec of deps.collections.specs()) {
        if (!current.has(spec.name)) push(deletes, spec.name, { id: entityId, version: after.version });
      }
    } else if (after.text !== undefined) {
      const text = deps.collections.nameFor('text');
      if (text !== undefined && !current.has(text)) push(deletes, text, { id: entityId, version: after.version });
    }
  }
  for (const [collection, items] of upserts) await deps.vectors.upsert(collection, items);
  for (const [collection, items] of deletes) await deps.vectors.delete(collection, items);
  return { skippedModelMismatch };
}
