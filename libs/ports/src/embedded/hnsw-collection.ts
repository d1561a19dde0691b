/**
 * In-memory side of one collection, held by the graph worker (hnsw-graph-worker.ts): the HNSW graph
 * plus the maps that translate between string ids and hnswlib's integer labels, the fields used by
 * filters, and the ids of each tenant. It is always a function of the LMDB rows: changes are applied
 * here only after LMDB committed them, with the labels the main thread recorded in those rows.
 */
import type { HierarchicalNSW } from 'hnswlib-node';
import { matchesFilter } from '../vector-index.js';
import type { CollectionSpec, VectorFields, VectorFilter, VectorHit } from '../vector-index.js';
import { TopK, compareScored, dot } from './hnsw-vectors.js';
import type { Scored } from './hnsw-vectors.js';

export interface LiveItem {
  label: number;
  fields: VectorFields;
}

export interface SearchTuning {
  efSearch: number;
  exactSearchBelow: number;
}

/**
 * Candidate list per requested result. hnswlib's usual ef = 64 gives recall@10 of only ~0.9 on
 * 5,000 random 64-d vectors (M = 16); 16·k (160 for k = 10) gives ~0.99 for about 2x the latency
 * (0.1 ms there). The same margin also covers filtered search, where rejected candidates take room.
 */
const EF_PER_K = 16;

/** Capacity of a fresh graph; it doubles on demand (resizeIndex), so this only avoids early resizes. */
export const INITIAL_CAPACITY = 1024;

export class HnswCollection {
  /** Sequence of the last change applied to this in-memory state. */
  seq = 0;
  /** Sequence covered by the snapshot file on disk, -1 when there is none usable. */
  snapshotSeq = -1;
  readonly items = new Map<string, LiveItem>();
  private readonly idsByLabel: Array<string | undefined> = [];
  private readonly tenants = new Map<string, Set<string>>();

  constructor(
    readonly spec: Required<CollectionSpec>,
    readonly hnsw: HierarchicalNSW,
  ) {}

  /**
   * Records an item in the maps, and in the graph when `vector` is given (recovery passes none and
   * adds only the vectors its snapshot lacks, through {@link addToGraph}).
   */
  upsert(id: string, label: number, fields: VectorFields, vector: Float32Array | undefined): void {
    // A live row keeps its label for life, so normally there is nothing to hide here.
    this.forget(id, this.items.get(id)?.label !== label);
    this.items.set(id, { label, fields });
    this.idsByLabel[label] = id;
    let ids = this.tenants.get(fields.tenant);
    if (ids === undefined) this.tenants.set(fields.tenant, (ids = new Set()));
    ids.add(id);
    if (vector !== undefined) this.addToGraph(label, vector);
  }

  delete(id: string): void {
    this.forget(id, true);
  }

  /** Adds or replaces the point at `label`, growing the graph first when it is full. */
  addToGraph(label: number, vector: Float32Array): void {
    const capacity = this.hnsw.getMaxElements();
    if (this.hnsw.getCurrentCount() >= capacity) this.hnsw.resizeIndex(Math.max(INITIAL_CAPACITY, capacity * 2));
    this.hnsw.addPoint(Array.from(vector), label);
  }

  /** After a restart: hides every graph point whose label no live row owns (see hnsw-recovery). */
  hideOrphanLabels(): void {
    for (const label of this.hnsw.getIdsList()) {
      if (this.idsByLabel[label] !== undefined) continue;
      try {
        this.hnsw.markDelete(label);
      } catch {
        // Already marked deleted in the snapshot: nothing to hide.
      }
    }
  }

  search(query: Float32Array, k: number, filter: VectorFilter, tuning: SearchTuning, getVector: (id: string) => Float32Array | undefined): VectorHit[] {
    const tenantIds = this.tenants.get(filter.tenant);
    if (tenantIds === undefined || k <= 0) return [];
    const tenantOnly = Object.entries(filter).every(([key, value]) => key === 'tenant' || value === undefined);
    let candidates: Iterable<string> | undefined = tenantIds.size <= tuning.exactSearchBelow ? tenantIds : undefined;
    if (candidates === undefined && !tenantOnly) candidates = this.fewMatches(tenantIds, filter, tuning.exactSearchBelow);
    // When the tenant owns every item, the graph needs no filter callback (a JS call per candidate).
    const scored =
      candidates === undefined
        ? this.searchGraph(query, k, filter, tenantOnly && tenantIds.size === this.items.size, tuning)
        : this.searchExact(query, k, filter, candidates, getVector);
    return scored.map(({ id, score }) => ({ id, score, fields: (this.items.get(id) as LiveItem).fields }));
  }

  /**
   * The ids matching the filter when there are at most `limit` of them. A selective filter over a
   * big tenant (one session among millions) is answered exactly: filtered HNSW would have to walk
   * most of the graph to find them and could still miss some.
   */
  private fewMatches(ids: Set<string>, filter: VectorFilter, limit: number): string[] | undefined {
    const matched: string[] = [];
    for (const id of ids) {
      if (!matchesFilter((this.items.get(id) as LiveItem).fields, filter)) continue;
      if (matched.length === limit) return undefined;
      matched.push(id);
    }
    return matched;
  }

  private searchExact(query: Float32Array, k: number, filter: VectorFilter, ids: Iterable<string>, getVector: (id: string) => Float32Array | undefined): Scored[] {
    const top = new TopK(k);
    for (const id of ids) {
      const item = this.items.get(id);
      if (item === undefined || !matchesFilter(item.fields, filter)) continue;
      const vector = getVector(id);
      // A concurrent delete may have committed in LMDB before reaching this map: skip, it is gone.
      if (vector !== undefined) top.offer({ id, score: dot(query, vector) });
    }
    return top.result();
  }

  private searchGraph(query: Float32Array, k: number, filter: VectorFilter, unfiltered: boolean, tuning: SearchTuning): Scored[] {
    this.hnsw.setEf(Math.max(tuning.efSearch, EF_PER_K * k));
    const accept = (label: number): boolean => {
      const id = this.idsByLabel[label];
      const item = id === undefined ? undefined : this.items.get(id);
      return item !== undefined && matchesFilter(item.fields, filter);
    };
    const limit = Math.min(k, this.hnsw.getMaxElements());
    const point = Array.from(query);
    const { neighbors, distances } = unfiltered ? this.hnsw.searchKnn(point, limit) : this.hnsw.searchKnn(point, limit, accept);
    const scored: Scored[] = [];
    neighbors.forEach((label, i) => {
      const id = this.idsByLabel[label];
      if (id !== undefined) scored.push({ id, score: 1 - (distances[i] as number) });
    });
    return scored.sort(compareScored);
  }

  private forget(id: string, hide: boolean): void {
    const item = this.items.get(id);
    if (item === undefined) return;
    this.items.delete(id);
    this.idsByLabel[item.label] = undefined;
    const ids = this.tenants.get(item.fields.tenant);
    ids?.delete(id);
    if (ids?.size === 0) this.tenants.delete(item.fields.tenant);
    // The label may be handed to another item later (hnsw-labels): hnswlib then revives the point.
    if (hide) this.hnsw.markDelete(item.label);
  }
}
