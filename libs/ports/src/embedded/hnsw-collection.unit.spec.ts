import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HnswCollection } from './hnsw-collection.js';
import { createGraph } from './hnsw-recovery.js';
import { dot, normalizeVector } from './hnsw-vectors.js';
import type { VectorFields, VectorHit } from '../vector-index.js';

const DIMS = 16;
// Every search goes to the graph (and its pending side), never to the exact path.
const graphOnly = { efSearch: 64, exactSearchBelow: 0 };
const spec = { name: 'c', dims: DIMS, metric: 'cosine' as const, model: 'test@1' };

function unitVectors(count: number, seed: number): Float32Array[] {
  let state = seed;
  const next = (): number => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5;
  return Array.from({ length: count }, () => normalizeVector(Float32Array.from({ length: DIMS }, next), DIMS, 'test'));
}

const fields = (tenant: string, tags: string[] = []): VectorFields => ({ tenant, namespace: 'n', kind: 'document', tags, updatedAt: 0 });
const newCollection = () => new HnswCollection(spec, createGraph(DIMS, 0, { M: 16, efConstruction: 100 }));
const ids = (hits: VectorHit[]) => hits.map((h) => h.id);
const noVectors = () => undefined;

describe('embedded HNSW collection: staged points', () => {
  it('finds staged items before the graph has them, with exact scores, and the same once inserted', () => {
    const vectors = unitVectors(50, 7);
    const c = newCollection();
    vectors.slice(0, 40).forEach((v, i) => c.stage(`old-${i}`, i, fields('t'), v, i + 1));
    c.insertPending(Number.POSITIVE_INFINITY);
    vectors.slice(40).forEach((v, i) => c.stage(`new-${i}`, 40 + i, fields('t'), v, 41 + i));
    assert.equal(c.pendingCount, 10);

    const query = vectors[45]!;
    const before = c.search(query, 5, { tenant: 't' }, graphOnly, noVectors);
    assert.equal(before[0]!.id, 'new-5', 'a staged item is found');
    assert.ok(Math.abs(before[0]!.score - dot(query, vectors[45]!)) < 1e-6);
    assert.equal(c.insertPending(Number.POSITIVE_INFINITY), false);
    assert.equal(c.pendingCount, 0);
    assert.deepEqual(ids(c.search(query, 5, { tenant: 't' }, graphOnly, noVectors)), ids(before));
  });

  it('never answers with the graph’s old point of an item whose new vector is staged', () => {
    const [a, b] = unitVectors(2, 11);
    const c = newCollection();
    c.stage('x', 0, fields('t'), a!, 1);
    c.stage('y', 1, fields('t'), b!, 2);
    c.insertPending(Number.POSITIVE_INFINITY);
    c.stage('x', 0, fields('t'), b!, 3); // x moves onto y's vector; the graph still holds x at a
    const hits = c.search(a!, 2, { tenant: 't' }, graphOnly, noVectors);
    assert.deepEqual(hits.map((h) => h.id).sort(), ['x', 'y']);
    const x = hits.find((h) => h.id === 'x')!;
    assert.ok(Math.abs(x.score - dot(a!, b!)) < 1e-6, 'x is scored with its new vector');
  });

  it('keeps staged items to their tenant and filter, and forgets a deleted one that never reached the graph', () => {
    const vectors = unitVectors(4, 3);
    const c = newCollection();
    c.stage('mine', 0, fields('t', ['keep']), vectors[0]!, 1);
    c.insertPending(Number.POSITIVE_INFINITY);
    c.stage('theirs', 1, fields('u'), vectors[1]!, 2);
    c.stage('untagged', 2, fields('t'), vectors[2]!, 3);
    c.stage('gone', 3, fields('t', ['keep']), vectors[3]!, 4);
    c.delete('gone');
    assert.equal(c.pendingCount, 2);
    assert.deepEqual(ids(c.search(vectors[1]!, 10, { tenant: 't', tags: ['keep'] }, graphOnly, noVectors)), ['mine']);
    assert.deepEqual(ids(c.search(vectors[1]!, 10, { tenant: 'u' }, graphOnly, noVectors)), ['theirs']);
    c.insertPending(Number.POSITIVE_INFINITY);
    assert.deepEqual(ids(c.search(vectors[3]!, 10, { tenant: 't', tags: ['keep'] }, graphOnly, noVectors)), ['mine']);
  });

  it('says which changes its graph holds: all, or those before the oldest staged one', () => {
    const c = newCollection();
    const vectors = unitVectors(6, 9);
    vectors.forEach((v, i) => c.stage(`i-${i}`, i, fields('t'), v, 11 + i));
    c.seq = 16; // as the worker records after applying a change
    assert.equal(c.coveredSeq(), 10);
    c.insertPending(0);
    assert.equal(c.coveredSeq(), 11);
    c.stage('i-1', 1, fields('t'), vectors[0]!, 17); // re-staged: now the newest
    c.seq = 17;
    assert.equal(c.coveredSeq(), 12);
    while (c.insertPending(0));
    assert.equal(c.coveredSeq(), 17);
    assert.equal(c.changesLabel('i-1', 1), false);
    assert.equal(c.changesLabel('i-1', 7), true);
    assert.equal(c.changesLabel('new', 7), false);
  });

  it('inserts staged points a slice at a time, oldest first', () => {
    const c = newCollection();
    unitVectors(20, 5).forEach((v, i) => c.stage(`i-${i}`, i, fields('t'), v, i + 1));
    // A deadline already past still inserts one point per call, so the drain always progresses.
    assert.equal(c.insertPending(0), true);
    assert.equal(c.pendingCount, 19);
    assert.equal(c.hnsw.getCurrentCount(), 1);
    while (c.insertPending(0));
    assert.equal(c.hnsw.getCurrentCount(), 20);
  });
});
