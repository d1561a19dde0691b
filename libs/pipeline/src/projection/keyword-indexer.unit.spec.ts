import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { encodeEntityId, type MemoryEvent } from '@engram/core';
import { createHashEmbedder, createLmdbKvStore, createLruCache, type KvStore } from '@engram/ports';
import { parseJson, watermarkKey } from '../kv-keys.js';
import { appendEnriched, createLogEnv, createRecordingDeadLetters, makeEvent, type LogEnv } from '../pipeline.spec-helper.js';
import { createMemoryKeywordIndex, searchKeyword, type MemoryKeywordIndex } from '../search/index.js';
import { createAppliedWatermarks, type AppliedWatermarks, type Watermark } from './applied-watermarks.js';
import { createKeywordIndexBatch, rebuildKeywordIndex, type KeywordIndexerOptions } from './keyword-indexer.js';
import { createFollowerBatch } from './state-follower.js';
import { createProjector, type Projector } from './projector.js';

const PARTITIONS = 2;
const embedder = createHashEmbedder({ dims: 16 });
const idOf = (key: string) => encodeEntityId({ tenant: 'acme', namespace: 'notes', key });

describe('keyword indexer (in-memory keyword index)', () => {
  let env: LogEnv;
  let kv: KvStore;
  let projector: Projector;
  let kvWatermarks: AppliedWatermarks;
  let keywordWatermarks: AppliedWatermarks;
  let options: KeywordIndexerOptions;
  let index: MemoryKeywordIndex;

  beforeEach(async () => {
    env = await createLogEnv({ partitions: PARTITIONS });
    kv = createLmdbKvStore({ path: path.join(env.dir, 'kv') });
    kvWatermarks = createAppliedWatermarks({ kv, partitions: PARTITIONS, refreshMs: 5 });
    keywordWatermarks = createAppliedWatermarks({ partitions: PARTITIONS });
    const common = { kv, log: env.log, codecs: env.codecs, topics: env.topics, deadLetters: createRecordingDeadLetters(), telemetry: env.telemetry };
    projector = createProjector({ ...common, cache: createLruCache(), watermarks: kvWatermarks, kvKeywordIndex: false });
    index = createMemoryKeywordIndex();
    options = { ...common, index, kvWatermarks, keywordWatermarks };
  });
  afterEach(async () => {
    kvWatermarks.close();
    keywordWatermarks.close();
    await kv.close();
    await env.close();
  });

  const project = async (events: MemoryEvent[]) => {
    const records = await appendEnriched(env, embedder, events);
    await projector.project(records);
    return records;
  };
  const found = async (text: string, idx = index) => (await searchKeyword(idx.postings, { tenant: 'acme', text, k: 10 })).map((h) => h.entityId);
  const projectionMarks = async () => {
    const stored = await kv.getMany([0, 1].map(watermarkKey));
    return new Map(stored.map((buf, p) => [p, buf ? parseJson<Watermark>(buf) : { enrichedOffset: -1, sourceOffset: -1 }]));
  };
  const kwKeys = async () => (await kv.scan({ prefix: 'kw|', limit: 10 })).entries.length;

  it('indexes the projected text, follows a rewrite and a delete, and advances its watermark after indexing', async () => {
    const marks = new Map<number, Watermark>();
    const batch = createKeywordIndexBatch(options, marks);
    const first = await project([
      makeEvent('k1', { type: 'MemoryWritten', value: 1 }, { text: 'zebras graze at dawn' }),
      makeEvent('k2', { type: 'MemoryWritten', value: 2 }, { text: 'penguins swim' }),
    ]);
    const source = (await env.codecs.enriched.decode(first[0]!.value!)).source;
    const positions = new Map([[source.partition, source.offset]]);
    assert.equal(keywordWatermarks.isApplied(positions), false);
    await batch(first);
    assert.equal(keywordWatermarks.isApplied(positions), true);
    assert.deepEqual(await found('zebras'), [idOf('k1')]);
    assert.deepEqual(await found('penguin'), [idOf('k2')]);
    assert.equal(await kwKeys(), 0, 'the projection wrote no KV keyword postings');

    await batch(await project([makeEvent('k1', { type: 'MemoryWritten', value: 3 }, { text: 'lions sleep' })]));
    assert.deepEqual(await found('zebras'), []);
    assert.deepEqual(await found('lions'), [idOf('k1')]);
    await batch(await project([makeEvent('k2', { type: 'MemoryDeleted' })]));
    assert.deepEqual(await found('penguins'), []);
    assert.deepEqual(index.size(), { tenants: 1, docs: 1, terms: 2, postings: 2, dead: 0 });
  });

  it('rebuilds from the KV states, covers the projection watermarks, and skips what they cover', async () => {
    const records = await project([
      makeEvent('k1', { type: 'MemoryWritten', value: 1 }, { text: 'zebras graze at dawn' }),
      makeEvent('k2', { type: 'MemoryWritten', value: 2 }, { text: 'penguins swim' }),
      makeEvent('k3', { type: 'MemoryWritten', value: 3 }, { text: 'short lived owls' }),
      makeEvent('k3', { type: 'MemoryDeleted' }),
      makeEvent('k4', { type: 'MemoryWritten', value: 4 }),
    ]);
    const marks = await rebuildKeywordIndex(kv, index, PARTITIONS);
    assert.deepEqual(marks, await projectionMarks());
    assert.deepEqual(await found('zebra'), [idOf('k1')]);
    assert.deepEqual(await found('penguins swim'), [idOf('k2')]);
    assert.deepEqual(await found('owls'), []);
    assert.deepEqual(index.size().docs, 2);

    // Redelivered records the rebuild covered are skipped: a marker text stays where it is.
    index.set(idOf('k1'), 'marker');
    const batch = createKeywordIndexBatch(options, marks);
    await batch(records);
    assert.deepEqual(await found('marker'), [idOf('k1')]);
    // A record after them is indexed, with the entity's current text.
    await batch(await project([makeEvent('k1', { type: 'MemoryPatched', patch: 5 }, { text: 'zebras at noon' })]));
    assert.deepEqual(await found('noon'), [idOf('k1')]);
    assert.deepEqual(await found('marker'), []);
  });

  it('reads no state for a batch whose events cannot change a text, and still advances its watermark', async () => {
    const marks = new Map<number, Watermark>();
    await createKeywordIndexBatch(options, marks)(await project([makeEvent('k1', { type: 'MemoryWritten', value: 1 }, { text: 'zebras' })]));
    let reads = 0;
    const counting: KvStore = { ...kv, getMany: (keys) => ((reads += keys.filter((k) => k.startsWith('m|')).length), kv.getMany(keys)) };
    const batch = createKeywordIndexBatch({ ...options, kv: counting }, marks);
    const records = await project([
      makeEvent('c1', { type: 'CounterIncremented', delta: 1 }),
      makeEvent('k1', { type: 'MemoryPatched', patch: 2 }),
    ]);
    await batch(records);
    assert.equal(reads, 0);
    const last = await env.codecs.enriched.decode(records[1]!.value!);
    assert.equal(keywordWatermarks.isApplied(new Map([[last.source.partition, last.source.offset]])), true);
    assert.deepEqual(await found('zebras'), [idOf('k1')]);
    // A text, or a delete, is read.
    await batch(await project([makeEvent('k1', { type: 'MemoryDeleted' })]));
    assert.equal(reads, 1);
    assert.deepEqual(await found('zebras'), []);
  });

  it('keeps its marks where they were when indexing fails, so the batch is taken again', async () => {
    const marks = new Map<number, Watermark>();
    let fail = true;
    const failing = { ...index, set: (id: string, text: string | undefined) => (fail ? assert.fail('index unavailable') : index.set(id, text)) };
    const batch = createKeywordIndexBatch({ ...options, index: failing }, marks);
    const records = await project([makeEvent('k1', { type: 'MemoryWritten', value: 1 }, { text: 'zebras' })]);
    await assert.rejects(batch(records));
    assert.deepEqual(marks, new Map());
    fail = false;
    await batch(records);
    assert.deepEqual(await found('zebras'), [idOf('k1')]);
    assert.equal(marks.get(records[0]!.partition)?.enrichedOffset, records[0]!.offset);
  });
});

describe('a follower keeps its progress in exactly one place', () => {
  it('refuses both keyFor and marks, and neither', () => {
    const base = { kv: {} as KvStore, codecs: {} as never, kvWatermarks: {} as AppliedWatermarks, watermarks: {} as AppliedWatermarks, handle: async () => undefined };
    assert.throws(() => createFollowerBatch(base), /exactly one/);
    assert.throws(() => createFollowerBatch({ ...base, keyFor: watermarkKey, marks: new Map() }), /exactly one/);
  });
});

