/**
 * Insert-rate scenarios for the vector benchmarks: something that takes batches of vectors and
 * indexes them, timed from the first batch until it says everything is done.
 *
 * This is the hook for the log → index benchmark (events/s from the event log into the HNSW
 * index, through the enrichment and projection workers): give {@link measureInsertRate} a scenario
 * whose `insert(batch)` appends the batch as events and whose `finish()` waits until the projection
 * has applied them, and it is measured the same way as the direct inserts here.
 */
import hnswlib from 'hnswlib-node';
import type { HierarchicalNSW } from 'hnswlib-node';
import { open } from 'lmdb';
import { createHnswVectorIndex } from '@engram/ports';
import type { VectorIndex, VectorItem } from '@engram/ports';
import { nowMs } from './timer.js';
import { row } from './vectors.js';

export interface VectorBatch {
  /** Index of the batch's first vector in the data set; item i of the batch is vector `start + i`. */
  start: number;
  vectors: Float32Array[];
}

export interface InsertScenario {
  name: string;
  /** Indexes one batch. Awaited before the next batch is offered. */
  insert(batch: VectorBatch): void | Promise<void>;
  /** Timed: waits until everything inserted is done (durable, applied, background work settled). */
  finish?(): void | Promise<void>;
}

export interface InsertRate {
  seconds: number;
  perSecond: number;
}

/** Feeds `count` rows of `data` to the scenario in batches of `batchSize` and times it end to end. */
export async function measureInsertRate(scenario: InsertScenario, data: Float32Array, dims: number, count: number, batchSize: number): Promise<InsertRate> {
  const start = nowMs();
  for (let first = 0; first < count; first += batchSize) {
    const vectors: Float32Array[] = [];
    for (let i = first; i < Math.min(count, first + batchSize); i++) vectors.push(row(data, dims, i));
    await scenario.insert({ start: first, vectors });
  }
  await scenario.finish?.();
  const seconds = (nowMs() - start) / 1000;
  return { seconds, perSecond: count / seconds };
}

export interface GraphParams {
  dims: number;
  M: number;
  efConstruction: number;
}

/** hnswlib's default seed, the one the embedded index uses too: same inserts, same graph. */
export const HNSW_SEED = 100;

/**
 * Raw hnswlib as an ideal caller uses it: capacity reserved up front, one `addPoint` per vector,
 * label = position in the data set. Returns the scenario and the graph, for searching afterwards.
 */
export function rawHnswScenario(params: GraphParams, capacity: number): { scenario: InsertScenario; graph: HierarchicalNSW } {
  const graph = new hnswlib.HierarchicalNSW('cosine', params.dims);
  graph.initIndex(capacity, params.M, params.efConstruction, HNSW_SEED);
  const scenario: InsertScenario = {
    name: 'raw hnswlib',
    insert({ start, vectors }) {
      // hnswlib-node takes plain arrays only (it rejects typed arrays), so the copy is part of its cost.
      vectors.forEach((v, i) => graph.addPoint(Array.from(v), start + i));
    },
  };
  return { scenario, graph };
}

export const MODEL = 'bench-clustered';

/** Item id of vector `i`, and back: ids are strings in the port, labels in the ground truth. */
export const itemId = (i: number): string => `mem-${i}`;
export const itemIndex = (id: string): number => Number(id.slice(4));

export interface EngramIndexOptions extends GraphParams {
  path: string;
  collection: string;
  /** Tenant of vector i. */
  tenantOf: (i: number) => string;
}

/**
 * The embedded VectorIndex with the same graph parameters: every batch is one `upsert` (one
 * durable LMDB commit, then the graph). `finish` waits for the background snapshot the inserts
 * triggered: `ensureCollection` of an existing collection queues behind it and changes nothing.
 */
export async function engramScenario(options: EngramIndexOptions): Promise<{ scenario: InsertScenario; index: VectorIndex }> {
  const index = await createHnswVectorIndex({ path: options.path, M: options.M, efConstruction: options.efConstruction });
  const spec = { name: options.collection, dims: options.dims, model: MODEL };
  await index.ensureCollection(spec);
  const updatedAt = Date.now();
  const scenario: InsertScenario = {
    name: 'Engram embedded index',
    insert: ({ start, vectors }) =>
      index.upsert(
        options.collection,
        vectors.map(
          (vector, i): VectorItem => ({
            id: itemId(start + i),
            vector,
            version: 1,
            fields: { tenant: options.tenantOf(start + i), namespace: 'bench/notes', kind: 'note', tags: [], updatedAt },
          }),
        ),
      ),
    finish: () => index.ensureCollection(spec),
  };
  return { scenario, index };
}

/**
 * Raw hnswlib plus raw LMDB: what the embedded index does at minimum — each batch's vectors
 * committed durably in one transaction, then added to the graph — with nothing else (no ids,
 * fields, versions or snapshots). Separates the cost of durability from the index's own overhead.
 */
export function rawDurableScenario(params: GraphParams, capacity: number, lmdbPath: string): { scenario: InsertScenario; close: () => Promise<void> } {
  const { scenario: graphOnly } = rawHnswScenario(params, capacity);
  const db = open<Buffer, string>({ path: lmdbPath, encoding: 'binary', compression: false });
  const scenario: InsertScenario = {
    name: 'raw hnswlib + raw LMDB',
    insert(batch) {
      db.transactionSync(() => {
        batch.vectors.forEach((v, i) => db.putSync(itemId(batch.start + i), Buffer.from(v.buffer, v.byteOffset, v.byteLength)));
      });
      return graphOnly.insert(batch);
    },
  };
  return { scenario, close: () => db.close() };
}
