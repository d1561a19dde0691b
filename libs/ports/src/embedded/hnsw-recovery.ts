/**
 * Brings one collection's in-memory state back in line with LMDB after a start (clean or not), or
 * after the graph worker was replaced. Runs in the graph worker.
 *
 * With a usable snapshot covering sequence S: every row committed at or before S is already in the
 * graph under its label, so only rows with seq > S are (re)added, and every graph label that no live
 * row owns any more (deleted after S, or re-assigned) is marked deleted. Without one (missing,
 * torn, corrupt), the graph is rebuilt from every live row. Either way the result equals the LMDB
 * state, whatever moment the previous process died at.
 */
import hnswlib from 'hnswlib-node';
import type { HierarchicalNSW } from 'hnswlib-node';
import { EngramError } from '@engram/core';
import { HnswCollection, INITIAL_CAPACITY } from './hnsw-collection.js';
import { readSnapshot } from './hnsw-snapshot.js';
import { isTombstone } from './hnsw-store.js';
import type { CollectionRecord, HnswStore, LiveRow } from './hnsw-store.js';

export interface GraphSettings {
  M: number;
  efConstruction: number;
}

/** hnswlib's own default seed; fixed so that the same inserts build the same graph. */
const RANDOM_SEED = 100;

export function createGraph(dims: number, capacity: number, settings: GraphSettings): HierarchicalNSW {
  const graph = new hnswlib.HierarchicalNSW('cosine', dims);
  graph.initIndex(Math.max(INITIAL_CAPACITY, capacity), settings.M, settings.efConstruction, RANDOM_SEED, false);
  return graph;
}

export async function loadCollection(store: HnswStore, record: CollectionRecord, snapshotsDir: string, settings: GraphSettings): Promise<HnswCollection> {
  const { spec } = record;
  const live: Array<{ id: string; row: LiveRow }> = [];
  for (const { id, row } of store.scan(spec.name)) if (!isTombstone(row)) live.push({ id, row });

  const snapshot = record.snapshot === undefined ? undefined : await readSnapshot(snapshotsDir, spec.name, record.snapshot, spec.dims);
  const coveredSeq = snapshot === undefined || record.snapshot === undefined ? -1 : record.snapshot.seq;
  const collection = new HnswCollection(spec, snapshot ?? createGraph(spec.dims, live.length, settings));

  const vectorOf = (id: string): Float32Array => {
    const vector = store.getVector(spec.name, id);
    // Rows and vectors are written in one transaction, so this means the files were tampered with.
    if (vector === undefined) throw new EngramError('vector_index_corrupt', `collection ${spec.name}: item ${id} has no stored vector`);
    return vector;
  };
  // Every vector is read (once), not only those the snapshot lacks: exact search keeps its own copy.
  const uncovered: Array<{ label: number; vector: Float32Array }> = [];
  for (const { id, row } of live) {
    const vector = vectorOf(id);
    collection.record(id, row.label, row.fields, vector);
    if (row.seq > coveredSeq) uncovered.push({ label: row.label, vector });
  }
  if (snapshot !== undefined) collection.hideOrphanLabels();
  for (const { label, vector } of uncovered) collection.addToGraph(label, vector);
  collection.seq = record.seq;
  collection.snapshotSeq = coveredSeq;
  return collection;
}
