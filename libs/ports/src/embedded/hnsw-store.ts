/**
 * The durable truth of the embedded vector index: one LMDB environment with three databases. The
 * main thread writes; the graph worker opens the same environment (lmdb-js shares it within the
 * process) and only reads.
 *
 * - `collections`: name → {@link CollectionRecord} (spec, last change sequence, snapshot metadata).
 * - `items`: `<collection>\0<id>` → {@link ItemRow}: a live row (label, version, fields, seq) or a
 *   tombstone (version, seq) so that an older upsert arriving after a delete stays ignored.
 * - `vectors`: same key → the unit vector as raw Float32 bytes (kept apart from `items` so that the
 *   start-up scan of `items` does not decode every vector).
 *
 * Every change gets a per-collection sequence number; an HNSW snapshot records the sequence it
 * covers, so recovery re-applies only rows changed after it.
 */
import { open } from 'lmdb';
import type { Database, RootDatabase } from 'lmdb';
import type { CollectionSpec, VectorFields } from '../vector-index.js';
import { bytesToVector, vectorToBytes } from './hnsw-vectors.js';

/** What a snapshot file holds; `sha256`/`bytes` let recovery refuse a torn or corrupted file. */
export interface SnapshotMeta {
  seq: number;
  bytes: number;
  sha256: string;
}

export interface CollectionRecord {
  spec: Required<CollectionSpec>;
  /** Sequence number of the last committed change (0 when none). */
  seq: number;
  snapshot?: SnapshotMeta;
}

export interface LiveRow {
  label: number;
  version: number;
  fields: VectorFields;
  seq: number;
}

export interface Tombstone {
  version: number;
  seq: number;
  deleted: true;
}

export type ItemRow = LiveRow | Tombstone;

export function isTombstone(row: ItemRow): row is Tombstone {
  return 'deleted' in row;
}

export interface HnswStore {
  listCollections(): CollectionRecord[];
  getCollection(name: string): CollectionRecord | undefined;
  /** All rows of a collection, live and tombstones, in key order. */
  scan(collection: string): Iterable<{ id: string; row: ItemRow }>;
  getVector(collection: string, id: string): Float32Array | undefined;
  /**
   * Makes the next reads see every commit made so far, by any thread. lmdb-js keeps one read
   * snapshot per thread until its next event turn; the graph worker reads rows the main thread has
   * just committed, so it calls this before each batch of reads.
   */
  refreshReads(): void;
  /** Runs `fn` in one write transaction; resolves once committed and flushed to disk. */
  write<T>(fn: (tx: HnswWriteTx) => T): Promise<T>;
  close(): Promise<void>;
}

/** Operations valid only inside {@link HnswStore.write}; reads see the transaction's own writes. */
export interface HnswWriteTx {
  getCollection(name: string): CollectionRecord | undefined;
  getRow(collection: string, id: string): ItemRow | undefined;
  putLive(collection: string, id: string, row: LiveRow, vector: Float32Array): void;
  putTombstone(collection: string, id: string, row: Tombstone): void;
  putCollection(record: CollectionRecord): void;
}

/** Ids are at most 1024 bytes and names 255 (hnsw-validation), well under LMDB's 1978-byte keys. */
function itemKey(collection: string, id: string): Buffer {
  // One string, one encode: the same bytes as name + 0x00 + id, in a third of the time (hot path
  // of exact search).
  return Buffer.from(`${collection}\0${id}`, 'utf8');
}

/** Bounds of one collection's keys: every key starts with `<name>\0`, and names never hold `\0`. */
function collectionRange(collection: string): { start: Buffer; end: Buffer } {
  const name = Buffer.from(collection, 'utf8');
  return { start: Buffer.concat([name, Buffer.from([0])]), end: Buffer.concat([name, Buffer.from([1])]) };
}

/** Opens (creating if needed) the LMDB environment in directory `dir`. */
export function openHnswStore(dir: string): HnswStore {
  // overlappingSync (the default on Linux) resolves writes at commit; `flushed` is awaited below so
  // that "durable on resolve" holds even after a power loss, not only a process crash.
  const root: RootDatabase = open({ path: dir, maxDbs: 4, compression: false });
  const collections: Database<CollectionRecord, string> = root.openDB('collections', {});
  const items: Database<ItemRow, Buffer> = root.openDB('items', { keyEncoding: 'binary' });
  const vectors: Database<Buffer, Buffer> = root.openDB('vectors', { keyEncoding: 'binary', encoding: 'binary' });

  const tx: HnswWriteTx = {
    getCollection: (name) => collections.get(name),
    getRow: (collection, id) => items.get(itemKey(collection, id)),
    putLive(collection, id, row, vector) {
      const key = itemKey(collection, id);
      void items.put(key, row);
      void vectors.put(key, vectorToBytes(vector));
    },
    putTombstone(collection, id, row) {
      const key = itemKey(collection, id);
      void items.put(key, row);
      void vectors.remove(key);
    },
    putCollection(record) {
      void collections.put(record.spec.name, record);
    },
  };

  return {
    listCollections: () => [...collections.getRange({})].map((entry) => entry.value),
    getCollection: (name) => collections.get(name),
    *scan(collection) {
      const prefixLength = Buffer.byteLength(collection, 'utf8') + 1;
      for (const { key, value } of items.getRange(collectionRange(collection))) {
        yield { id: key.subarray(prefixLength).toString('utf8'), row: value };
      }
    },
    getVector(collection, id) {
      const bytes = vectors.get(itemKey(collection, id));
      return bytes === undefined ? undefined : bytesToVector(bytes);
    },
    refreshReads: () => root.resetReadTxn(),
    async write(fn) {
      const result = await root.transaction(() => fn(tx));
      await root.flushed;
      return result;
    },
    close: () => root.close(),
  };
}
