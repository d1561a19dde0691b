/**
 * The single-node VectorIndex: hnswlib-node in process, made crash-safe by LMDB.
 *
 * Every upsert and delete commits to LMDB first (durable when the call resolves) and only then
 * changes the in-memory HNSW graph, so the graph can always be rebuilt. The graph is written to a
 * snapshot file now and then and on close; a start loads that file and re-applies the rows changed
 * after it (see hnsw-recovery.ts). One process owns a directory at a time.
 *
 * Small tenants (and selective filters) are searched exactly, so their results do not depend on
 * graph quality; larger ones go through filtered HNSW with a widened candidate list.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, EngramError, NotFoundError } from '@engram/core';
import type { CollectionSpec, VectorHit, VectorIndex, VectorItem, VectorSearch } from '../vector-index.js';
import { HnswCollection } from './hnsw-collection.js';
import { createGraph, loadCollection } from './hnsw-recovery.js';
import type { GraphSettings } from './hnsw-recovery.js';
import { writeSnapshot } from './hnsw-snapshot.js';
import { isTombstone, openHnswStore } from './hnsw-store.js';
import type { CollectionRecord } from './hnsw-store.js';
import { checkDeletes, checkItems, checkPositiveInteger, checkSearch, checkSpec } from './hnsw-validation.js';

export interface HnswVectorIndexOptions {
  /** Directory for the LMDB database (`lmdb/`) and the HNSW snapshots (`snapshots/`); created if missing. */
  path: string;
  /** Graph links per node: more gives better recall for more memory. @default 16 */
  M?: number;
  /** Candidate list while inserting: more gives a better graph, slower inserts. @default 200 */
  efConstruction?: number;
  /** Candidate list while searching; each search uses max(efSearch, 16·k) (see hnsw-collection). @default 64 */
  efSearch?: number;
  /** A tenant (or a filter) with at most this many items is searched exactly instead of through HNSW. @default 2000 */
  exactSearchBelow?: number;
  /** Changes to a collection after which its graph is snapshotted in the background. @default 10000 */
  snapshotEvery?: number;
  /**
   * Told about a failed snapshot. Nothing is lost (LMDB is the truth; the next one retries), only
   * the next start is slower, so this is for logging. @default ignore
   */
  onSnapshotError?: (error: unknown, collection: string) => void;
}

/** Opens (or creates) the index at `options.path`, recovering every collection before resolving. */
export async function createHnswVectorIndex(options: HnswVectorIndexOptions): Promise<VectorIndex> {
  const graph: GraphSettings = {
    M: checkPositiveInteger('M', options.M ?? 16, 2),
    efConstruction: checkPositiveInteger('efConstruction', options.efConstruction ?? 200, 1),
  };
  const tuning = {
    efSearch: checkPositiveInteger('efSearch', options.efSearch ?? 64, 1),
    exactSearchBelow: checkPositiveInteger('exactSearchBelow', options.exactSearchBelow ?? 2000, 0),
  };
  const snapshotEvery = checkPositiveInteger('snapshotEvery', options.snapshotEvery ?? 10_000, 1);
  const onSnapshotError = options.onSnapshotError ?? (() => undefined);
  const snapshotsDir = join(options.path, 'snapshots');
  await mkdir(snapshotsDir, { recursive: true });
  const store = openHnswStore(join(options.path, 'lmdb'));
  const collections = new Map<string, HnswCollection>();
  try {
    for (const record of store.listCollections()) collections.set(record.spec.name, await loadCollection(store, record, snapshotsDir, graph));
  } catch (error) {
    await store.close();
    throw error;
  }

  // Writes, snapshots and close run one at a time: hnswlib must not change while it serialises
  // the graph, and label allocation assumes no concurrent writer.
  let tail: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const result = tail.then(fn);
    tail = result.catch(() => undefined);
    return result;
  };
  let closed = false;
  const snapshotQueued = new Set<string>();

  function assertOpen(): void {
    if (closed) throw new EngramError('vector_index_closed', 'the vector index is closed');
  }

  /** Calls check `closed` on entry only: work accepted before close() still completes. */
  function collectionOf(name: string): HnswCollection {
    const collection = collections.get(name);
    if (collection === undefined) throw new NotFoundError('collection_not_found', `collection ${name} does not exist`, { collection: name });
    return collection;
  }

  async function snapshot(name: string): Promise<void> {
    const collection = collections.get(name);
    if (collection === undefined || collection.seq <= Math.max(collection.snapshotSeq, 0)) return;
    const seq = collection.seq;
    const meta = await writeSnapshot(snapshotsDir, name, collection.hnsw, seq);
    await store.write((tx) => {
      const record = tx.getCollection(name) as CollectionRecord;
      tx.putCollection({ ...record, snapshot: meta });
    });
    collection.snapshotSeq = seq;
  }

  function maybeSnapshot(collection: HnswCollection): void {
    const name = collection.spec.name;
    if (collection.seq - Math.max(collection.snapshotSeq, 0) < snapshotEvery || snapshotQueued.has(name)) return;
    snapshotQueued.add(name);
    void exclusive(() => snapshot(name))
      .catch((error: unknown) => onSnapshotError(error, name))
      .finally(() => snapshotQueued.delete(name));
  }

  /**
   * Applies committed changes to memory. Should that fail (hnswlib out of memory, say), memory no
   * longer mirrors LMDB: reload the collection from LMDB, which holds the change already.
   */
  async function apply(collection: HnswCollection, seq: number, change: () => void): Promise<void> {
    try {
      change();
      collection.seq = seq;
    } catch {
      const record = store.getCollection(collection.spec.name) as CollectionRecord;
      collections.set(record.spec.name, await loadCollection(store, record, snapshotsDir, graph));
      return;
    }
    maybeSnapshot(collection);
  }

  for (const collection of collections.values()) maybeSnapshot(collection);

  return {
    async ensureCollection(spec: CollectionSpec): Promise<void> {
      assertOpen();
      const wanted = checkSpec(spec);
      await exclusive(async () => {
        const existing = collections.get(wanted.name)?.spec;
        if (existing !== undefined) {
          if (existing.dims !== wanted.dims || existing.model !== wanted.model || existing.metric !== wanted.metric) {
            throw new ConflictError('collection_spec_mismatch', `collection ${wanted.name} exists with another spec`, { existing, wanted });
          }
          return;
        }
        await store.write((tx) => tx.putCollection({ spec: wanted, seq: 0 }));
        collections.set(wanted.name, new HnswCollection(wanted, createGraph(wanted.dims, 0, graph)));
      });
    },

    async upsert(name: string, items: VectorItem[]): Promise<void> {
      assertOpen();
      const prepared = checkItems(items, collectionOf(name).spec.dims);
      if (prepared.length === 0) return;
      await exclusive(async () => {
        const collection = collectionOf(name);
        const allocate = collection.labelAllocator();
        const { seq, applied } = await store.write((tx) => {
          const record = tx.getCollection(name) as CollectionRecord;
          let next = record.seq;
          const applied: Array<VectorItem & { label: number }> = [];
          for (const item of prepared) {
            const row = tx.getRow(name, item.id);
            if (row !== undefined && item.version < row.version) continue;
            // Reads inside the transaction see its own writes, so a repeated id keeps its label.
            const label = row !== undefined && !isTombstone(row) ? row.label : allocate();
            tx.putLive(name, item.id, { label, version: item.version, fields: item.fields, seq: ++next }, item.vector);
            applied.push({ ...item, label });
          }
          if (applied.length > 0) tx.putCollection({ ...record, seq: next });
          return { seq: next, applied };
        });
        await apply(collection, seq, () => {
          for (const item of applied) collection.upsert(item.id, item.label, item.fields, item.vector);
        });
      });
    },

    async delete(name: string, items: Array<{ id: string; version: number }>): Promise<void> {
      assertOpen();
      const prepared = checkDeletes(items);
      collectionOf(name); // an unknown collection fails even for an empty list, as upsert does
      if (prepared.length === 0) return;
      await exclusive(async () => {
        const collection = collectionOf(name);
        const { seq, deleted } = await store.write((tx) => {
          const record = tx.getCollection(name) as CollectionRecord;
          let next = record.seq;
          const deleted: string[] = [];
          for (const item of prepared) {
            const row = tx.getRow(name, item.id);
            if (row !== undefined && (item.version < row.version || (isTombstone(row) && item.version === row.version))) continue;
            // A tombstone even for an unknown id: an older upsert delivered later must stay ignored.
            tx.putTombstone(name, item.id, { version: item.version, seq: ++next, deleted: true });
            deleted.push(item.id);
          }
          if (deleted.length > 0) tx.putCollection({ ...record, seq: next });
          return { seq: next, deleted };
        });
        await apply(collection, seq, () => {
          for (const id of deleted) collection.delete(id);
        });
      });
    },

    async search(name: string, search: VectorSearch): Promise<VectorHit[]> {
      assertOpen();
      const collection = collectionOf(name);
      const query = checkSearch(search, collection.spec);
      return collection.search(query, search.k, search.filter, tuning, (id) => store.getVector(name, id));
    },

    async count(name: string): Promise<number> {
      assertOpen();
      return collectionOf(name).items.size;
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await exclusive(async () => {
        for (const name of collections.keys()) await snapshot(name).catch((error: unknown) => onSnapshotError(error, name));
      });
      await store.close();
    },
  };
}
