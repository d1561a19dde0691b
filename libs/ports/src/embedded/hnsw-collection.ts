/**
 * In-memory side of one collection, held by the graph worker (hnsw-graph-worker.ts): the HNSW graph,
 * an int8 copy of the vectors for exact search (hnsw-exact.ts), and the maps that translate between
 * string ids and hnswlib's integer labels, hold the fields filters need and list each tenant's
 * labels. It is always a function of the LMDB rows: changes are applied here only after LMDB
 * committed them, with the labels the main thread recorded in those rows.
 *
 * A search picks its path from the number of items its filter matches (hnsw-search-plan.ts): exact
 * when scanning them costs less than the graph would, else the graph with a candidate list widened
 * by the filter's selectivity. The graph's filter callback runs per visited point (thousands per
 * query), so the tenant test is a typed-array lookup of a per-label tenant code, and only points of
 * the right tenant reach the general filter.
 *
 * Staged points: an upsert is searchable as soon as it is recorded (maps, exact-search copy, and the
 * full vector in `pending`), before hnswlib has inserted it, which costs ~0.5–1 ms per point and
 * runs afterwards in slices (the worker's drain loop). A graph search skips pending labels (their
 * point is absent, or holds the item's previous vector) and adds the exact scores of the pending
 * items that match the filter.
 */
import type { HierarchicalNSW } from 'hnswlib-node';
import { matchesFilter } from '../vector-index.js';
import type { CollectionSpec, VectorFields, VectorFilter, VectorHit } from '../vector-index.js';
import { QuantizedVectors, exactSearch } from './hnsw-exact.js';
import { planSearch, scanLimit } from './hnsw-search-plan.js';
import type { SearchTuning } from './hnsw-search-plan.js';
import { TopK, compareScored, dot } from './hnsw-vectors.js';
import type { Scored } from './hnsw-vectors.js';

export interface LiveItem {
  id: string;
  label: number;
  fields: VectorFields;
}

interface Tenant {
  /** Small integer standing for the tenant in {@link HnswCollection.tenantCodes}. */
  code: number;
  labels: Set<number>;
}

/** Capacity of a fresh graph; it doubles on demand (resizeIndex), so this only avoids early resizes. */
export const INITIAL_CAPACITY = 1024;

/** Code of a label no live item owns. */
const NO_TENANT = -1;

export class HnswCollection {
  /** Sequence of the last change applied to this in-memory state. */
  seq = 0;
  /** Sequence covered by the snapshot file on disk, -1 when there is none usable. */
  snapshotSeq = -1;
  readonly items = new Map<string, LiveItem>();
  private readonly byLabel: Array<LiveItem | undefined> = [];
  private tenantCodes = new Int32Array(INITIAL_CAPACITY).fill(NO_TENANT);
  private readonly tenants = new Map<string, Tenant>();
  private nextTenantCode = 0;
  private readonly vectors: QuantizedVectors;
  /** Recorded but not yet (re)inserted into the graph, oldest first: label → full vector and the change's sequence. */
  private readonly pending = new Map<number, { vector: Float32Array; seq: number }>();

  constructor(
    readonly spec: Required<CollectionSpec>,
    readonly hnsw: HierarchicalNSW,
  ) {
    this.vectors = new QuantizedVectors(spec.dims, INITIAL_CAPACITY);
  }

  /** Records an item (change `seq`), searchable at once; its graph point follows with {@link insertPending}. */
  stage(id: string, label: number, fields: VectorFields, vector: Float32Array, seq: number): void {
    this.record(id, label, fields, vector);
    this.pending.delete(label); // a re-staged label moves to the back
    this.pending.set(label, { vector, seq });
  }

  /**
   * The highest sequence whose changes are all in the graph: {@link seq} when nothing is staged,
   * else just below the oldest staged change (changes are staged in sequence order). A snapshot of
   * the graph covers exactly that much.
   */
  coveredSeq(): number {
    const oldest = this.pending.values().next();
    return oldest.done === true ? this.seq : oldest.value.seq - 1;
  }

  /** Recording `id` under `label` would hide a graph point (its live row had another label). */
  changesLabel(id: string, label: number): boolean {
    const item = this.items.get(id);
    return item !== undefined && item.label !== label;
  }

  /** Points recorded but not yet in the graph. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Inserts staged points into the graph, oldest first, until `deadline` (performance.now()); true if some remain. */
  insertPending(deadline: number): boolean {
    for (const [label, { vector }] of this.pending) {
      this.pending.delete(label);
      this.addToGraph(label, vector);
      if (performance.now() >= deadline) break;
    }
    return this.pending.size > 0;
  }

  /**
   * Records an item in the maps and the exact-search copy, not in the graph: recovery adds to the
   * graph only the vectors its snapshot lacks, through {@link addToGraph}.
   */
  record(id: string, label: number, fields: VectorFields, vector: Float32Array): void {
    // A live row keeps its label for life, so normally there is nothing to hide here.
    this.forget(id, this.items.get(id)?.label !== label);
    const item: LiveItem = { id, label, fields };
    this.items.set(id, item);
    this.byLabel[label] = item;
    let tenant = this.tenants.get(fields.tenant);
    if (tenant === undefined) this.tenants.set(fields.tenant, (tenant = { code: this.nextTenantCode++, labels: new Set() }));
    tenant.labels.add(label);
    if (label >= this.tenantCodes.length) this.growTenantCodes(label + 1);
    this.tenantCodes[label] = tenant.code;
    this.vectors.set(label, vector);
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
      if (this.byLabel[label] !== undefined) continue;
      try {
        this.hnsw.markDelete(label);
      } catch {
        // Already marked deleted in the snapshot: nothing to hide.
      }
    }
  }

  /** `getVector` reads an item's full vector (from LMDB) to rescore exact-search candidates. */
  search(query: Float32Array, k: number, filter: VectorFilter, tuning: SearchTuning, getVector: (id: string) => Float32Array | undefined): VectorHit[] {
    const tenant = this.tenants.get(filter.tenant);
    if (tenant === undefined || k <= 0) return [];
    const tenantOnly = Object.entries(filter).every(([key, value]) => key === 'tenant' || value === undefined);
    // Hidden points count: the graph walks through them as through any rejected point.
    const points = Math.max(this.hnsw.getCurrentCount(), this.items.size);
    const matched = tenantOnly ? { labels: tenant.labels, count: tenant.labels.size } : this.countMatches(tenant.labels, filter, scanLimit(points, k, tuning));
    const plan = planSearch(matched.count, points, k, tuning);
    const scored =
      plan.exact && matched.labels !== undefined
        ? exactSearch(query, k, matched.labels, this.vectors, (label) => this.rescore(query, label, getVector))
        : this.searchGraphAndPending(query, k, plan.ef, tenant, tenantOnly ? undefined : filter);
    return scored.map(({ id, score }) => ({ id, score, fields: (this.items.get(id) as LiveItem).fields }));
  }

  private searchGraphAndPending(query: Float32Array, k: number, ef: number, tenant: Tenant, filter: VectorFilter | undefined): Scored[] {
    // When the tenant owns every item and nothing is pending, the graph needs no filter callback at all.
    const everything = filter === undefined && tenant.labels.size === this.items.size;
    if (this.pending.size === 0) return this.searchGraph(query, k, ef, everything ? undefined : this.acceptor(tenant, filter));
    const pending = this.pending;
    const accept = everything ? undefined : this.acceptor(tenant, filter);
    const fromGraph = this.searchGraph(query, k, ef, accept === undefined ? (label) => !pending.has(label) : (label) => !pending.has(label) && accept(label));
    const top = new TopK(k);
    for (const hit of fromGraph) top.offer(hit);
    for (const [label, { vector }] of pending) {
      if (accept !== undefined && !accept(label)) continue;
      top.offer({ id: (this.byLabel[label] as LiveItem).id, score: dot(query, vector) });
    }
    return top.result();
  }

  /**
   * The labels matching the filter when there are at most `limit`; beyond that, stops and
   * extrapolates their number from the share matched so far (labels undefined).
   */
  private countMatches(labels: Set<number>, filter: VectorFilter, limit: number): { labels?: number[]; count: number } {
    const matched: number[] = [];
    let scanned = 0;
    for (const label of labels) {
      scanned++;
      if (!matchesFilter((this.byLabel[label] as LiveItem).fields, filter)) continue;
      if (matched.length === limit) return { count: Math.round((labels.size * (limit + 1)) / scanned) };
      matched.push(label);
    }
    return { labels: matched, count: matched.length };
  }

  /** The graph's filter callback: the tenant code first, the general filter only for that tenant's points. */
  private acceptor(tenant: Tenant, filter: VectorFilter | undefined): (label: number) => boolean {
    const codes = this.tenantCodes;
    const { code } = tenant;
    if (filter === undefined) return (label) => codes[label] === code;
    const byLabel = this.byLabel;
    return (label) => codes[label] === code && matchesFilter((byLabel[label] as LiveItem).fields, filter);
  }

  private rescore(query: Float32Array, label: number, getVector: (id: string) => Float32Array | undefined): Scored | undefined {
    const id = (this.byLabel[label] as LiveItem).id;
    const vector = getVector(id);
    // A concurrent delete may have committed in LMDB before reaching this map: skip, it is gone.
    return vector === undefined ? undefined : { id, score: dot(query, vector) };
  }

  private searchGraph(query: Float32Array, k: number, ef: number, accept: ((label: number) => boolean) | undefined): Scored[] {
    this.hnsw.setEf(ef);
    const limit = Math.min(k, this.hnsw.getMaxElements());
    const point = Array.from(query);
    const { neighbors, distances } = accept === undefined ? this.hnsw.searchKnn(point, limit) : this.hnsw.searchKnn(point, limit, accept);
    const scored: Scored[] = [];
    neighbors.forEach((label, i) => {
      const item = this.byLabel[label];
      if (item !== undefined) scored.push({ id: item.id, score: 1 - (distances[i] as number) });
    });
    return scored.sort(compareScored);
  }

  private growTenantCodes(minimum: number): void {
    const codes = new Int32Array(Math.max(minimum, this.tenantCodes.length * 2)).fill(NO_TENANT);
    codes.set(this.tenantCodes);
    this.tenantCodes = codes;
  }

  private forget(id: string, hide: boolean): void {
    const item = this.items.get(id);
    if (item === undefined) return;
    this.items.delete(id);
    this.byLabel[item.label] = undefined;
    this.tenantCodes[item.label] = NO_TENANT;
    const tenant = this.tenants.get(item.fields.tenant);
    tenant?.labels.delete(item.label);
    if (tenant?.labels.size === 0) this.tenants.delete(item.fields.tenant);
    const wasPending = this.pending.delete(item.label);
    if (!hide) return;
    // The label may be handed to another item later (hnsw-labels): hnswlib then revives the point.
    try {
      this.hnsw.markDelete(item.label);
    } catch (error) {
      // A staged item that never reached the graph has no point to hide.
      if (!wasPending) throw error;
    }
  }
}
