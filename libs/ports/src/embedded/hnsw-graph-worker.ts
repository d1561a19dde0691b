/**
 * The graph worker of the embedded vector index: it owns every collection's HNSW graph (hnswlib)
 * and the maps search needs, so that hnswlib's synchronous, CPU-bound calls (addPoint above all)
 * never block the main thread, where HTTP ingest, reads and the pipeline's other workers run.
 * Started by hnsw-graph-client.ts through hnsw-graph-worker.mjs; speaks hnsw-protocol.ts.
 *
 * Changes arrive only after the main thread committed them to LMDB, with the labels it recorded
 * there, and are applied in arrival order, one at a time; searches run as soon as they arrive, in
 * between. hnswlib's graph must not change while it serialises it, so while a collection is being
 * snapshotted its staged points wait for the graph, deletes (and the rare upsert that would hide a
 * point) wait for the snapshot, and plain upserts are still staged — searchable at once, as ever.
 * The worker opens the same LMDB environment and only reads it: rows and vectors to recover a
 * collection, and the full vectors of exact search's best candidates (it scans an int8 copy held
 * here, see hnsw-exact.ts).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { errorToWire } from '@engram/core';
import type { VectorFields, VectorHit } from '../vector-index.js';
import { HnswCollection } from './hnsw-collection.js';
import type { GraphRequest, GraphWorkerConfig, LoadedCollection, RequestEnvelope, ResponseEnvelope } from './hnsw-protocol.js';
import { createGraph, loadCollection } from './hnsw-recovery.js';
import { writeSnapshot } from './hnsw-snapshot.js';
import { openHnswStore } from './hnsw-store.js';
import type { CollectionRecord, SnapshotMeta } from './hnsw-store.js';

/**
 * Longest stretch of graph inserts before the worker looks at its message queue again: a search or
 * a staging upsert then waits behind the inserts for about this long, not for a whole batch. 2 ms
 * (a few inserts) rather than 5: POST → vector-visible p50 / p99 fell from 29 / 112 to 25 / 91 ms in
 * interleaved freshness runs, with the same indexing capacity (bench/results/pipeline.md).
 */
const SLICE_MS = 2;

/**
 * Most staged points per collection (searchable, not yet in the graph; see hnsw-collection.ts): an
 * upsert beyond it waits for the graph to catch up. A graph search also scores the staged points
 * of its tenant exactly (1,000 × 384 dims: ~0.3 ms), so this bounds what staging adds to it.
 */
const MAX_PENDING = 1000;

const config = workerData as GraphWorkerConfig;
const port = parentPort as MessagePort;
const store = openHnswStore(config.lmdbDir);
const collections = new Map<string, HnswCollection>();

/** Collections whose graph is being written to a snapshot: name → settles when it is written. */
const frozen = new Map<string, Promise<void>>();

let tail: Promise<unknown> = Promise.resolve();
function serial<T>(fn: () => Promise<T>): Promise<T> {
  const result = tail.then(fn);
  tail = result.catch(() => undefined);
  return result;
}

function collectionOf(name: string): HnswCollection {
  const collection = collections.get(name);
  // The main thread checks names before sending, so this is a bug, not a caller's mistake.
  if (collection === undefined) throw new Error(`graph worker: unknown collection ${name}`);
  return collection;
}

async function loadAll(): Promise<LoadedCollection[]> {
  store.refreshReads();
  const loaded: LoadedCollection[] = [];
  for (const record of store.listCollections()) {
    const collection = await loadCollection(store, record, config.snapshotsDir, config.graph);
    collections.set(record.spec.name, collection);
    const labels = Uint32Array.from(collection.items.values(), (item) => item.label);
    loaded.push({ spec: record.spec, seq: collection.seq, snapshotSeq: collection.snapshotSeq, labels });
  }
  return loaded;
}

/**
 * Applies committed changes to memory. Should that fail (hnswlib out of memory, say), memory no
 * longer mirrors LMDB: reload the collection from LMDB, which holds the change already (and maybe
 * later ones, applied a second time when their messages come: that changes nothing). If even that
 * fails, end the worker: the index starts a new one, which loads everything from LMDB.
 */
async function apply(name: string, seq: number, change: (collection: HnswCollection) => Promise<void>): Promise<void> {
  const collection = collectionOf(name);
  try {
    await change(collection);
    collection.seq = Math.max(collection.seq, seq);
  } catch {
    await reload(name);
  }
}

/** Rebuilds a collection from LMDB after a failed change (see apply); ends the worker if even that fails. */
async function reload(name: string): Promise<void> {
  try {
    store.refreshReads();
    const record = store.getCollection(name) as CollectionRecord;
    collections.set(name, await loadCollection(store, record, config.snapshotsDir, config.graph));
  } catch (error) {
    await crash(error);
  }
}

/**
 * Ends the worker with `error` as its uncaught exception, without answering: the index fails every
 * pending call with a retriable `vector_index_unavailable` (caused by `error`) and starts a new worker
 * on the next one.
 */
function crash(error: unknown): Promise<never> {
  setImmediate(() => {
    throw error;
  });
  return new Promise<never>(() => undefined);
}

/**
 * Stages the items (searchable from now on) and answers; the drain loop inserts them into the graph.
 * Waits first while the collection has MAX_PENDING staged points (backpressure on the indexer).
 */
async function upsert(request: Extract<GraphRequest, { op: 'upsert' }>): Promise<void> {
  const { ids, labels, fields, vectors } = request;
  while ((collections.get(request.collection)?.pendingCount ?? 0) >= MAX_PENDING) {
    const snapshot = frozen.get(request.collection);
    if (snapshot !== undefined) {
      await snapshot;
    } else {
      drain();
      await drained();
    }
  }
  // Checked again after each wait, and then staged in the same turn: a snapshot cannot start between.
  const hides = () => ids.some((id, i) => collections.get(request.collection)?.changesLabel(id, labels[i] as number));
  while (frozen.has(request.collection) && hides()) await frozen.get(request.collection);
  await apply(request.collection, request.seq, async (collection) => {
    const dims = collection.spec.dims;
    const firstSeq = request.seq - ids.length + 1;
    for (let i = 0; i < ids.length; i++) {
      // A copy: `vectors` is one transferred buffer, and a view would keep all of it alive.
      collection.stage(ids[i] as string, labels[i] as number, fields[i] as VectorFields, vectors.slice(i * dims, (i + 1) * dims), firstSeq + i);
    }
  });
  drain();
}

let draining = false;
let drainWaiters: Array<() => void> = [];
const drained = () => new Promise<void>((resolve) => drainWaiters.push(resolve));

/** Inserts staged points into the graphs a slice at a time, letting messages (searches above all) in between. */
function drain(): void {
  if (draining) return;
  draining = true;
  void (async () => {
    try {
      for (;;) {
        let more = false;
        for (const [name, collection] of collections) {
          if (!frozen.has(name)) more = (await insertSlice(name, collection)) || more;
        }
        const waiters = drainWaiters;
        drainWaiters = [];
        for (const wake of waiters) wake();
        if (!more) break;
        await nextTurn();
      }
    } finally {
      draining = false;
    }
  })();
}

/** A slice of the drain: true if staged points remain. A failed insert rebuilds the collection from LMDB (nothing remains). */
function insertSlice(name: string, collection: HnswCollection): Promise<boolean> {
  if (collection.pendingCount === 0) return Promise.resolve(false);
  return insertStaged(name, collection, performance.now() + SLICE_MS).catch(() => false);
}

/** Inserts staged points until `deadline` (performance.now()); after a failure, rebuilds the collection from LMDB and rethrows. */
async function insertStaged(name: string, collection: HnswCollection, deadline: number): Promise<boolean> {
  try {
    return collection.insertPending(deadline);
  } catch (error) {
    await reload(name);
    throw error;
  }
}

function search(request: Extract<GraphRequest, { op: 'search' }>): VectorHit[] {
  const { collection: name, query, k, filter } = request;
  // Unknown only while its `create` waits behind a snapshot: nothing can be in it yet.
  const collection = collections.get(name);
  if (collection === undefined) return [];
  let fresh = false;
  return collection.search(query, k, filter, config.tuning, (id) => {
    // Exact search rescores with vectors the main thread may have committed a moment ago.
    if (!fresh) store.refreshReads();
    fresh = true;
    return store.getVector(name, id);
  });
}

/**
 * Writes the collection's graph (one snapshot of a collection at a time). With `drainFirst` every
 * staged point is inserted before; either way the file claims only what its graph holds
 * (coveredSeq), and recovery re-adds every later change from LMDB.
 */
async function snapshot(name: string, drainFirst: boolean): Promise<SnapshotMeta> {
  while (frozen.has(name)) await frozen.get(name);
  let written!: () => void;
  frozen.set(name, new Promise<void>((resolve) => (written = resolve)));
  try {
    const collection = collectionOf(name);
    if (drainFirst) await insertStaged(name, collection, Number.POSITIVE_INFINITY);
    const meta = await writeSnapshot(config.snapshotsDir, name, collection.hnsw, collection.coveredSeq());
    collection.snapshotSeq = meta.seq;
    return meta;
  } finally {
    frozen.delete(name);
    written();
    drain();
  }
}

async function handle(request: GraphRequest): Promise<unknown> {
  switch (request.op) {
    case 'search':
      return search(request);
    case 'load':
      return serial(loadAll);
    case 'create':
      return serial(async () => {
        const { spec } = request;
        if (!collections.has(spec.name)) collections.set(spec.name, new HnswCollection(spec, createGraph(spec.dims, 0, config.graph)));
      });
    case 'upsert':
      return serial(() => upsert(request));
    case 'delete':
      return serial(async () => {
        // Hiding a point changes the graph; applied in the turn that found no snapshot running.
        while (frozen.has(request.collection)) await frozen.get(request.collection);
        await apply(request.collection, request.seq, async (collection) => {
          for (const id of request.ids) collection.delete(id);
        });
      });
    case 'snapshot': {
      if (request.drain) return serial(() => snapshot(request.collection, true));
      // In the background it starts in turn (after a load, say), then writes beside the changes
      // that follow, which are staged meanwhile.
      const { written } = await serial(async () => ({ written: snapshot(request.collection, false) }));
      return written;
    }
    case 'close':
      return serial(() => store.close());
  }
}

port.on('message', ({ id, request }: RequestEnvelope) => {
  handle(request).then(
    (value) => {
      const transfer = request.op === 'load' ? (value as LoadedCollection[]).map((c) => c.labels.buffer as ArrayBuffer) : [];
      port.postMessage({ id, ok: true, value } satisfies ResponseEnvelope, transfer);
    },
    (error: unknown) => port.postMessage({ id, ok: false, error: errorToWire(error) } satisfies ResponseEnvelope),
  );
});
