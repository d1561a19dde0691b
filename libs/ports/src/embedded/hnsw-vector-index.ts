/**
 * The single-node VectorIndex: hnswlib in a worker thread, made crash-safe by LMDB.
 *
 * Every upsert and delete commits to LMDB first (durable when the call resolves) and only then
 * changes the HNSW graph, so the graph can always be rebuilt. The graph lives in a worker thread
 * (hnsw-graph-worker.ts) because hnswlib's inserts are synchronous and CPU-bound: on the main thread
 * they took about half of it during a sustained ingest, stalling HTTP and the pipeline. The main
 * thread validates, commits to LMDB (choosing each new item's hnswlib label, see hnsw-labels.ts) and
 * sends the batch to the worker; the call resolves once the worker has staged it, so a search that
 * follows sees it (staged items are scored exactly until hnswlib has inserted them, in slices, after
 * the answer; see hnsw-collection.ts). The worker holds at most 1,000 staged items per collection
 * and answers later upserts only as the graph catches up, so a fast writer cannot pile up work.
 *
 * The graph is written to a snapshot file now and then and on close; a start loads that file and
 * re-applies the rows changed after it (see hnsw-recovery.ts). A worker that dies is replaced on the
 * next call and recovers the same way. One process owns a directory at a time.
 *
 * A search whose filter matches few items, relative to the graph's size, is answered exactly (an
 * int8 copy of the vectors scanned in the worker, the best rescored from LMDB); others go through
 * filtered HNSW with a candidate list widened by the filter's selectivity. hnsw-search-plan.ts has
 * the cost model and the measurements behind it.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResourceLimits } from 'node:worker_threads';
import { ConflictError, EngramError, NotFoundError, withFields } from '@engram/core';
import type { CollectionSpec, VectorHit, VectorIndex, VectorItem, VectorSearch } from '../vector-index.js';
import { createGraphClient } from './hnsw-graph-client.js';
import { LabelAllocator } from './hnsw-labels.js';
import type { GraphRequest } from './hnsw-protocol.js';
import type { GraphSettings } from './hnsw-recovery.js';
import { isTombstone, openHnswStore } from './hnsw-store.js';
import type { CollectionRecord, SnapshotMeta } from './hnsw-store.js';
import { checkDeletes, checkItems, checkPositiveInteger, checkSearch, checkSpec } from './hnsw-validation.js';
import { packVectors } from './hnsw-vectors.js';

export interface HnswVectorIndexOptions {
  /** Directory for the LMDB database (`lmdb/`) and the HNSW snapshots (`snapshots/`); created if missing. */
  path: string;
  /** Graph links per node: more gives better recall for more memory. @default 16 */
  M?: number;
  /**
   * Candidate list while inserting: more gives a better graph, slower inserts. 100 keeps recall@10
   * at 0.99+ (5,000 random 64-d vectors; 20,000 clustered 384-d ones) with the search ef below, and
   * inserts about twice as fast as 200. @default 100
   */
  efConstruction?: number;
  /**
   * Smallest candidate list while searching; each search uses at least max(efSearch, 16·k), more
   * when a filter rejects most of the graph (see hnsw-search-plan). @default 64
   */
  efSearch?: number;
  /**
   * Most items a search may scan exactly. Below it the index picks exact search whenever that is
   * estimated cheaper than the graph (see hnsw-search-plan); 0 sends every search to the graph.
   * @default no limit
   */
  exactSearchBelow?: number;
  /** Changes to a collection after which its graph is snapshotted in the background. @default 10000 */
  snapshotEvery?: number;
  /**
   * Told about a failed snapshot. Nothing is lost (LMDB is the truth; the next one retries), only
   * the next start is slower, so this is for logging. @default ignore
   */
  onSnapshotError?: (error: unknown, collection: string) => void;
  /**
   * Limits of the graph worker's JS heap (its maps of ids and fields; hnswlib's graphs are native
   * memory). A worker that exceeds them dies; calls then fail with `vector_index_unavailable` and the
   * next one starts a new worker. @default Node's defaults
   */
  workerResourceLimits?: ResourceLimits;
}

/** What the main thread keeps of a collection; the graph and the maps search needs are in the worker. */
interface CollectionState {
  spec: Required<CollectionSpec>;
  labels: LabelAllocator;
  /** Sequence of the last change committed to LMDB. */
  seq: number;
  /** Sequence covered by the recorded snapshot, -1 when there is none usable. */
  snapshotSeq: number;
}

type Applied = VectorItem & { label: number };

/** One message for the whole batch; the vectors go packed in one buffer, transferred, not copied. */
function upsertRequest(name: string, seq: number, applied: Applied[], dims: number): GraphRequest & { vectors: Float32Array<ArrayBuffer> } {
  const vectors = packVectors(applied.map((item) => item.vector), dims);
  return {
    op: 'upsert',
    collection: name,
    seq,
    ids: applied.map((item) => item.id),
    labels: applied.map((item) => item.label),
    fields: applied.map((item) => item.fields),
    vectors,
  };
}

/** Opens (or creates) the index at `options.path`, recovering every collection before resolving. */
export async function createHnswVectorIndex(options: HnswVectorIndexOptions): Promise<VectorIndex> {
  const graph: GraphSettings = {
    M: checkPositiveInteger('M', options.M ?? 16, 2),
    efConstruction: checkPositiveInteger('efConstruction', options.efConstruction ?? 100, 1),
  };
  const tuning = {
    efSearch: checkPositiveInteger('efSearch', options.efSearch ?? 64, 1),
    exactSearchBelow: checkPositiveInteger('exactSearchBelow', options.exactSearchBelow ?? Number.MAX_SAFE_INTEGER, 0),
  };
  const snapshotEvery = checkPositiveInteger('snapshotEvery', options.snapshotEvery ?? 10_000, 1);
  const onSnapshotError = options.onSnapshotError ?? (() => undefined);
  const snapshotsDir = join(options.path, 'snapshots');
  const lmdbDir = join(options.path, 'lmdb');
  await mkdir(snapshotsDir, { recursive: true });
  // Opened here first: the worker then joins the environment this thread created.
  const store = openHnswStore(lmdbDir);
  const client = createGraphClient({ config: { lmdbDir, snapshotsDir, graph, tuning }, resourceLimits: options.workerResourceLimits });
  const collections = new Map<string, CollectionState>();
  try {
    for (const loaded of await client.start()) {
      const { spec, seq, snapshotSeq, labels } = loaded;
      collections.set(spec.name, { spec, seq, snapshotSeq, labels: new LabelAllocator(labels) });
    }
  } catch (error) {
    await client.close();
    await store.close();
    throw error;
  }

  // Commits and close run one at a time: label allocation assumes no concurrent writer, and the
  // worker must receive changes in commit order. Waiting for the worker to apply a change happens
  // outside, so the next batch can commit meanwhile; background snapshots run outside too.
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
  function collectionOf(name: string): CollectionState {
    const collection = collections.get(name);
    if (collection === undefined) throw new NotFoundError('collection_not_found', `collection ${name} does not exist`, { collection: name });
    return collection;
  }

  /**
   * Snapshots a collection's graph. `drain` (at close): every change committed so far was sent
   * before this request and is inserted first, so the file covers them all. Without (in the
   * background, beside the writes): the file covers what the graph held when it was written, and
   * the worker stages later upserts meanwhile, so indexing does not stop for it.
   */
  async function snapshot(name: string, drain: boolean): Promise<void> {
    const collection = collections.get(name);
    if (collection === undefined || collection.seq <= Math.max(collection.snapshotSeq, 0)) return;
    const meta = await client.call<SnapshotMeta>({ op: 'snapshot', collection: name, drain });
    await store.write((tx) => {
      const record = tx.getCollection(name) as CollectionRecord;
      tx.putCollection({ ...record, snapshot: meta });
    });
    collection.snapshotSeq = Math.max(collection.snapshotSeq, meta.seq);
  }

  /** Background snapshots in flight; close waits for them. */
  const background = new Set<Promise<void>>();

  function maybeSnapshot(collection: CollectionState): void {
    const name = collection.spec.name;
    if (closed || collection.seq - Math.max(collection.snapshotSeq, 0) < snapshotEvery || snapshotQueued.has(name)) return;
    snapshotQueued.add(name);
    // Not `exclusive`: upserts go on committing (and the worker staging them) while the graph is written.
    const running: Promise<void> = snapshot(name, false)
      .catch((error: unknown) => onSnapshotError(error, name))
      .finally(() => {
        snapshotQueued.delete(name);
        background.delete(running);
      });
    background.add(running);
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
        // Known from the commit on: should the worker die before creating it, its successor loads it.
        collections.set(wanted.name, { spec: wanted, seq: 0, snapshotSeq: -1, labels: new LabelAllocator() });
        await client.call({ op: 'create', spec: wanted });
      });
    },

    async upsert(name: string, items: VectorItem[]): Promise<void> {
      assertOpen();
      const prepared = checkItems(items, collectionOf(name).spec.dims);
      if (prepared.length === 0) return;
      const sent = await exclusive(async () => {
        const collection = collectionOf(name);
        const candidates = collection.labels.candidates();
        const { seq, applied } = await store.write((tx) => {
          const record = tx.getCollection(name) as CollectionRecord;
          let next = record.seq;
          const applied: Applied[] = [];
          for (const item of prepared) {
            const row = tx.getRow(name, item.id);
            if (row !== undefined && item.version < row.version) continue;
            // Reads inside the transaction see its own writes, so a repeated id keeps its label.
            const label = row !== undefined && !isTombstone(row) ? row.label : candidates();
            tx.putLive(name, item.id, { label, version: item.version, fields: item.fields, seq: ++next }, item.vector);
            applied.push(withFields({ ...item }, { label }));
          }
          if (applied.length > 0) tx.putCollection({ ...record, seq: next });
          return { seq: next, applied };
        });
        if (applied.length === 0) return undefined;
        for (const item of applied) collection.labels.claim(item.label);
        collection.seq = seq;
        const request = upsertRequest(name, seq, applied, collection.spec.dims);
        return { collection, done: client.call<void>(request, [request.vectors.buffer]) };
      });
      if (sent === undefined) return;
      await sent.done;
      maybeSnapshot(sent.collection);
    },

    async delete(name: string, items: Array<{ id: string; version: number }>): Promise<void> {
      assertOpen();
      const prepared = checkDeletes(items);
      collectionOf(name); // an unknown collection fails even for an empty list, as upsert does
      if (prepared.length === 0) return;
      const sent = await exclusive(async () => {
        const collection = collectionOf(name);
        const { seq, deleted, freed } = await store.write((tx) => {
          const record = tx.getCollection(name) as CollectionRecord;
          let next = record.seq;
          const deleted: string[] = [];
          const freed: number[] = [];
          for (const item of prepared) {
            const row = tx.getRow(name, item.id);
            if (row !== undefined && (item.version < row.version || (isTombstone(row) && item.version === row.version))) continue;
            if (row !== undefined && !isTombstone(row)) freed.push(row.label);
            // A tombstone even for an unknown id: an older upsert delivered later must stay ignored.
            tx.putTombstone(name, item.id, { version: item.version, seq: ++next, deleted: true });
            deleted.push(item.id);
          }
          if (deleted.length > 0) tx.putCollection({ ...record, seq: next });
          return { seq: next, deleted, freed };
        });
        if (deleted.length === 0) return undefined;
        for (const label of freed) collection.labels.release(label);
        collection.seq = seq;
        return { collection, done: client.call<void>({ op: 'delete', collection: name, seq, ids: deleted }) };
      });
      if (sent === undefined) return;
      await sent.done;
      maybeSnapshot(sent.collection);
    },

    async search(name: string, search: VectorSearch): Promise<VectorHit[]> {
      assertOpen();
      const query = checkSearch(search, collectionOf(name).spec);
      return client.call<VectorHit[]>({ op: 'search', collection: name, query, k: search.k, filter: search.filter }, [query.buffer as ArrayBuffer]);
    },

    async count(name: string): Promise<number> {
      assertOpen();
      return collectionOf(name).labels.liveCount;
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await Promise.all(background);
      await exclusive(async () => {
        // A dead worker is not restarted just to snapshot: the next start recovers from LMDB anyway.
        if (client.running) {
          for (const name of collections.keys()) await snapshot(name, true).catch((error: unknown) => onSnapshotError(error, name));
        }
        await client.close();
      });
      await store.close();
    },
  };
}
