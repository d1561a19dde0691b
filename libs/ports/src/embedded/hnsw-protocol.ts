/**
 * Messages between the embedded vector index (main thread) and its graph worker. Every request
 * carries an id and gets exactly one response with that id. Vectors travel as Float32Arrays whose
 * buffers are transferred, not copied: an upsert packs its vectors into one array.
 */
import type { WireError } from '@engram/core';
import type { CollectionSpec, VectorFields, VectorFilter } from '../vector-index.js';
import type { SearchTuning } from './hnsw-search-plan.js';
import type { GraphSettings } from './hnsw-recovery.js';

/** `workerData` of the graph worker. */
export interface GraphWorkerConfig {
  /** The LMDB environment the main thread writes; the worker reads rows and vectors from it. */
  lmdbDir: string;
  snapshotsDir: string;
  graph: GraphSettings;
  tuning: SearchTuning;
}

/** What the worker found for one collection while loading: enough for the main thread's bookkeeping. */
export interface LoadedCollection {
  spec: Required<CollectionSpec>;
  /** Sequence of the last committed change. */
  seq: number;
  /** Sequence the snapshot it loaded covers, -1 when it rebuilt the graph from LMDB. */
  snapshotSeq: number;
  /** Labels of the live rows (see hnsw-labels). */
  labels: Uint32Array;
}

export type GraphRequest =
  /** Loads every collection from LMDB (snapshot + replay); the first request to every worker. */
  | { op: 'load' }
  | { op: 'create'; spec: Required<CollectionSpec> }
  /**
   * Item i has id `ids[i]`, label `labels[i]`, fields `fields[i]`, vector `vectors[i·dims, (i+1)·dims)`
   * and sequence `seq − ids.length + 1 + i` (`seq` is the last item's).
   */
  | { op: 'upsert'; collection: string; seq: number; ids: string[]; labels: number[]; fields: VectorFields[]; vectors: Float32Array }
  | { op: 'delete'; collection: string; seq: number; ids: string[] }
  /** `query` is unit length (hnsw-validation). */
  | { op: 'search'; collection: string; query: Float32Array; k: number; filter: VectorFilter }
  /**
   * Writes the graph and answers its SnapshotMeta. With `drain`, every change sent before is inserted
   * first (at close); without, the graph is written as it is, covering the changes already in it,
   * while later upserts are staged meanwhile (in the background).
   */
  | { op: 'snapshot'; collection: string; drain: boolean }
  /** Releases the worker's LMDB handle; the main thread terminates the worker once answered. */
  | { op: 'close' };

export interface RequestEnvelope {
  id: number;
  request: GraphRequest;
}

export type ResponseEnvelope = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };
