/**
 * VectorIndex: approximate nearest-neighbour search with filters. Embedded: hnswlib in process,
 * persisted. Distributed: Milvus. Every search is scoped to one tenant: there is no way to ask the
 * port for another tenant's vectors without naming it.
 */

export interface CollectionSpec {
  /** e.g. `memories_text_g1`. */
  name: string;
  dims: number;
  /** @default 'cosine' */
  metric?: 'cosine';
  /** The embedding model that fills this collection; a query from another model is refused. */
  model: string;
}

/** Scalar fields stored beside each vector, used by filters. */
export interface VectorFields {
  tenant: string;
  namespace: string;
  kind: string;
  agentId?: string;
  sessionId?: string;
  tags: string[];
  /** Epoch ms of the entity's last change. */
  updatedAt: number;
}

export interface VectorItem {
  /** Canonical entity id. */
  id: string;
  vector: Float32Array;
  /** Entity version: an upsert or delete with an older version than the stored one is ignored. */
  version: number;
  fields: VectorFields;
}

export interface VectorFilter {
  tenant: string;
  /** Namespace equals this or lies below it (segment-wise). */
  namespacePrefix?: string;
  agentId?: string;
  sessionId?: string;
  /** Every listed tag must be present. */
  tags?: string[];
  kind?: string;
  /** updatedAt >= since (epoch ms). */
  since?: number;
  /** updatedAt <= until (epoch ms). */
  until?: number;
}

export interface VectorHit {
  id: string;
  /** Cosine similarity, higher is closer. */
  score: number;
  fields: VectorFields;
}

export interface VectorSearch {
  vector: Float32Array;
  k: number;
  /** The model that embedded the query; must equal the collection's. */
  model: string;
  filter: VectorFilter;
}

export interface VectorIndex {
  /**
   * Creates the collection, or checks an existing one has this spec: another dims, model or metric is
   * `collection_spec_mismatch` with `details.existing`, the stored spec.
   */
  ensureCollection(spec: CollectionSpec): Promise<void>;
  /** Durable on resolve. */
  upsert(collection: string, items: VectorItem[]): Promise<void>;
  delete(collection: string, items: Array<{ id: string; version: number }>): Promise<void>;
  search(collection: string, search: VectorSearch): Promise<VectorHit[]>;
  count(collection: string): Promise<number>;
  close(): Promise<void>;
}

/** True when `namespace` equals `prefix` or lies below it segment-wise (`a/b` is under `a`, `ab` is not). */
export function namespaceMatches(namespace: string, prefix: string | undefined): boolean {
  if (prefix === undefined || prefix === '') return true;
  return namespace === prefix || namespace.startsWith(`${prefix}/`);
}

/** The filter as a predicate, shared by every implementation that filters in process. */
export function matchesFilter(fields: VectorFields, filter: VectorFilter): boolean {
  if (fields.tenant !== filter.tenant) return false;
  if (!namespaceMatches(fields.namespace, filter.namespacePrefix)) return false;
  if (filter.agentId !== undefined && fields.agentId !== filter.agentId) return false;
  if (filter.sessionId !== undefined && fields.sessionId !== filter.sessionId) return false;
  if (filter.kind !== undefined && fields.kind !== filter.kind) return false;
  if (filter.since !== undefined && fields.updatedAt < filter.since) return false;
  if (filter.until !== undefined && fields.updatedAt > filter.until) return false;
  if (filter.tags !== undefined && !filter.tags.every((t) => fields.tags.includes(t))) return false;
  return true;
}
