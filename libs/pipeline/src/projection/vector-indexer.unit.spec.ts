import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { encodeEntityId, type MemoryEvent } from '@engram/core';
import {
  createHashEmbedder,
  createHnswVectorIndex,
  embeddingModelKey,
  createLmdbKvStore,
  createLruCache,
  type Embedder,
  type KvStore,
  type StoredRecord,
  type VectorFilter,
  type VectorIndex,
} from '@engram/ports';
import { parseJson, vectorWatermarkKey } from '../kv-keys.js';
import { appendEnriched, appendUndecodable, createLogEnv, createRecordingDeadLetters, keyOnPartition, makeEvent, waitUntil, type LogEnv } from '../pipeline.spec-helper.js';
import { createAppliedWatermarks, type AppliedWatermarks, type Watermark } from './applied-watermarks.js';
import { createProjector, type Projector } from './projector.js';
import { createVectorCollections, ensureCollections, type VectorCollections } from './vector-collections.js';
import { createVectorIndexBatch } from './vector-indexer.js';

const PARTITIONS = 2;
const DIMS = 16;
const idOf = (key: string) => encodeEntityId({ tenant: 'acme', namespace: 'notes', key });

describe('vector indexer', () => {
  let env: LogEnv;
  let kv: KvStore;
  let vectors: VectorIndex;
  let embedder: Embedder;
  let collections: VectorCollections;
  let kvWatermarks: AppliedWatermarks;
  let vectorWatermarks: AppliedWatermarks;
  let waitCalls: number;
  let projector: Projector;
  let index: (records: StoredRecord[]) => Promise<void>;
  const closers: Array<() => void> = [];

  beforeEach(async () => {
    env = await createLogEnv({ partitions: PARTITIONS });
    kv = createLmdbKvStore({ path: path.join(env.dir, 'kv') });
    vectors = await createHnswVectorIndex({ path: path.join(env.dir, 'vectors') });
    embedder = createHashEmbedder({ dims: DIMS });
    collections = createVectorCollections({ textModel: { ...embedder.model, dims: DIMS }, clientModalities: {} });
    await ensureCollections(vectors, collections);
    const projectorMarks = createAppliedWatermarks({ kv, partitions: PARTITIONS, refreshMs: 5 });
    vectorWatermarks = createAppliedWatermarks({ kv, partitions: PARTITIONS, keyFor: vectorWatermarkKey, refreshMs: 5 });
    closers.push(() => projectorMarks.close(), () => vectorWatermarks.close());
    // The indexer shares the projector's in-process watermarks; counting waitFor calls shows when it blocks.
    waitCalls = 0;
    kvWatermarks = { ...projectorMarks, waitFor: (positions, ms) => (waitCalls++, projectorMarks.waitFor(positions, ms)) };
    const deadLetters = createRecordingDeadLetters();
    const common = { kv, log: env.log, codecs: env.codecs, topics: env.topics, deadLetters, telemetry: env.telemetry };
    projector = createProjector({ ...common, cache: createLruCache(), watermarks: projectorMarks });
    index = createVectorIndexBatch({ ...common, vectors, collections, kvWatermarks, vectorWatermarks });
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    await vectors.close();
    await kv.close();
    await env.close();
  });

  const collection = () => collections.nameFor('text')!;
  const append = (events: MemoryEvent[]) => appendEnriched(env, embedder, events);
  const projectAndIndex = async (events: MemoryEvent[]) => {
    const records = await append(events);
    await projector.project(records);
    await index(records);
    return records;
  };
  const search = async (text: string, filter: Partial<VectorFilter> = {}) => {
    const [vector] = await embedder.embed([text]);
    return vectors.search(collection(), { vector: vector!, k: 5, model: embeddingModelKey(embedder.model), filter: { tenant: 'acme', ...filter } });
  };
  const vectorWatermark = async (partition: number) => {
    const buf = await kv.get(vectorWatermarkKey(partition));
    return buf ? parseJson<Watermark>(buf) : undefined;
  };
  const sourceOf = async (record: StoredRecord) => (await env.codecs.enriched.decode(record.value!)).source;

  it('upserts a projected memory with its fields and current version', async () => {
    const metadata = { agentId: 'planner', tags: ['fruit'], attributes: {} };
    await projectAndIndex([
      makeEvent('k1', { type: 'MemoryWritten', value: 1 }, { text: 'apples and pears', metadata }),
      makeEvent('k1', { type: 'MemoryPatched', patch: 2 }, { metadata }),
    ]);

    const [hit, ...rest] = await search('apples and pears');
    assert.equal(rest.length, 0);
    assert.equal(hit?.id, idOf('k1'));
    assert.ok(hit!.score > 0.99, `same vector, score ${hit!.score}`);
    assert.deepEqual(hit!.fields.tags, ['fruit']);
    assert.equal(hit!.fields.agentId, 'planner');
    assert.equal(hit!.fields.namespace, 'notes');
    assert.equal(await vectors.count(collection()), 1);

    // The stored version is 2: a delete at version 1 is ignored, one at version 2 applies.
    await vectors.delete(collection(), [{ id: idOf('k1'), version: 1 }]);
    assert.equal((await search('apples and pears')).length, 1);
    await vectors.delete(collection(), [{ id: idOf('k1'), version: 2 }]);
    assert.equal((await search('apples and pears')).length, 0);
  });

  it('removes a memory from the index after MemoryDeleted', async () => {
    await projectAndIndex([makeEvent('k1', { type: 'MemoryWritten', value: 1 }, { text: 'short lived' })]);
    assert.equal((await search('short lived')).length, 1);
    await projectAndIndex([makeEvent('k1', { type: 'MemoryDeleted' })]);
    assert.deepEqual(await search('short lived'), []);
    assert.equal(await vectors.count(collection()), 0);
  });

  it('re-upserts a metadata-only patch with the new tags and the stored vector', async () => {
    await projectAndIndex([makeEvent('k1', { type: 'MemoryWritten', value: 1 }, { text: 'tagged note', metadata: { tags: ['old'], attributes: {} } })]);
    const [patch] = await projectAndIndex([makeEvent('k1', { type: 'MemoryPatched', patch: 2 }, { metadata: { tags: ['new'], attributes: {} } })]);
    assert.deepEqual((await env.codecs.enriched.decode(patch!.value!)).embeddings, [], 'the patch brings no vector of its own');

    const [hit] = await search('tagged note', { tags: ['new'] });
    assert.equal(hit?.id, idOf('k1'));
    assert.ok(hit!.score > 0.99);
    assert.deepEqual(hit!.fields.tags, ['new']);
    assert.deepEqual(await search('tagged note', { tags: ['old'] }), []);
  });

  it('passes over memories that have no vectors and get none, reading nothing for them', async () => {
    await projectAndIndex([makeEvent('v1', { type: 'MemoryWritten', value: 1 }, { text: 'has a vector' })]);
    let reads = 0;
    const counting: KvStore = { ...kv, getMany: (keys) => ((reads += keys.filter((k) => k.startsWith('m|')).length), kv.getMany(keys)) };
    const batch = createVectorIndexBatch({ kv: counting, log: env.log, codecs: env.codecs, topics: env.topics, deadLetters: createRecordingDeadLetters(), telemetry: env.telemetry, vectors, collections, kvWatermarks, vectorWatermarks });
    const records = await append([makeEvent('c1', { type: 'CounterIncremented', delta: 1 }), makeEvent('c2', { type: 'CounterIncremented', delta: 2 })]);
    await projector.project(records);
    await batch(records);
    assert.equal(reads, 0);
    for (const record of records) {
      const source = await sourceOf(record);
      assert.equal(vectorWatermarks.isApplied(new Map([[source.partition, source.offset]])), true);
    }
    // A memory with a vector is read again for any change (its fields and version move with it).
    const patch = await append([makeEvent('v1', { type: 'MemoryPatched', patch: 2 }, { metadata: { tags: ['moved'], attributes: {} } })]);
    await projector.project(patch);
    await batch(patch);
    assert.equal(reads, 1);
    assert.deepEqual((await search('has a vector', { tags: ['moved'] })).map((h) => h.id), [idOf('v1')]);
  });

  it('waits for the KV projection before indexing a batch', async () => {
    const records = await append([makeEvent('k1', { type: 'MemoryWritten', value: 1 }, { text: 'wait for me' })]);
    let projectionStarted = false;
    let resolvedBeforeProjection: boolean | undefined;
    const indexing = index(records).then(() => {
      resolvedBeforeProjection = !projectionStarted;
    });
    // Poll until the indexer is blocked on the KV watermark (or, wrongly, done); it must not have indexed yet.
    await waitUntil(() => waitCalls > 0 || resolvedBeforeProjection !== undefined, 5000, 'the indexer to wait or finish');
    assert.equal(resolvedBeforeProjection, undefined, 'the indexer finished before the projection ran');
    assert.equal(await vectors.count(collection()), 0);

    projectionStarted = true;
    await projector.project(records);
    await indexing;
    assert.equal(resolvedBeforeProjection, false);
    assert.equal((await search('wait for me'))[0]?.id, idOf('k1'));
  });

  it('learns the KV projection progress of another process from KV', async () => {
    const elsewhere = createAppliedWatermarks({ kv, partitions: PARTITIONS, refreshMs: 5 });
    closers.push(() => elsewhere.close());
    const remoteIndex = createVectorIndexBatch({
      kv, log: env.log, codecs: env.codecs, topics: env.topics, deadLetters: createRecordingDeadLetters(), telemetry: env.telemetry,
      vectors, collections, kvWatermarks: elsewhere, vectorWatermarks,
    });
    const records = await append([makeEvent('k1', { type: 'MemoryWritten', value: 1 }, { text: 'remote projection' })]);
    const indexing = remoteIndex(records);
    await projector.project(records);
    await indexing;
    assert.equal((await search('remote projection'))[0]?.id, idOf('k1'));
  });

  it('writes the vw| watermark, never moves it backwards, and skips records below it', async () => {
    const [k1, k2] = [keyOnPartition(1, PARTITIONS, 'a'), keyOnPartition(1, PARTITIONS, 'b')];
    const older = await append([makeEvent(k1, { type: 'MemoryWritten', value: 1 }, { text: 'older' })]);
    const newer = await append([makeEvent(k2, { type: 'MemoryWritten', value: 2 }, { text: 'newer' })]);
    await projector.project([...older, ...newer]);
    const newest = { enrichedOffset: newer[0]!.offset, sourceOffset: (await sourceOf(newer[0]!)).offset };

    await index(newer);
    assert.deepEqual(await vectorWatermark(1), newest);
    assert.equal(await vectorWatermark(0), undefined);
    assert.equal(vectorWatermarks.isApplied(new Map([[1, newest.sourceOffset]])), true);

    await index(older);
    assert.deepEqual(await vectorWatermark(1), newest, 'an older batch must not move vw| back');
    assert.equal(vectorWatermarks.isApplied(new Map([[1, newest.sourceOffset]])), true);
    // Within a partition, records below the indexer's watermark are redeliveries: skipped.
    assert.notEqual((await search('older'))[0]?.id, idOf(k1), 'a batch below the watermark is skipped');

    // A batch holding only an undecodable record moves the enriched offset but keeps the source offset.
    const poison = await appendUndecodable(env, 1);
    await projector.project([poison]);
    await index([poison]);
    assert.deepEqual(await vectorWatermark(1), { ...newest, enrichedOffset: poison.offset });
  });

  it('is harmless on redelivery', async () => {
    const first = await projectAndIndex([makeEvent('k1', { type: 'MemoryWritten', value: 1 }, { text: 'again and again', metadata: { tags: ['v1'], attributes: {} } })]);
    await projectAndIndex([makeEvent('k1', { type: 'MemoryPatched', patch: 2 }, { metadata: { tags: ['v2'], attributes: {} } })]);
    await index(first);
    await index(first);
    const hits = await search('again and again');
    assert.equal(hits.length, 1);
    assert.deepEqual(hits[0]!.fields.tags, ['v2'], 'a redelivered old batch does not bring back old fields');
    assert.equal(await vectors.count(collection()), 1);
  });

  it('drops the vector of deleted text when the indexer lags behind a delete and a rewrite without text', async () => {
    await projectAndIndex([makeEvent('k1', { type: 'MemoryWritten', value: 1 }, { text: 'forgotten words' })]);
    const deleted = await append([makeEvent('k1', { type: 'MemoryDeleted' })]);
    const rewritten = await append([makeEvent('k1', { type: 'MemoryWritten', value: 'no text now' })]);
    // The projection runs ahead; the indexer then sees both batches only through the current state.
    await projector.project(deleted);
    await projector.project(rewritten);
    await index(deleted);
    await index(rewritten);
    assert.deepEqual(await search('forgotten words'), [], 'a deleted text must not stay findable by vector');
  });

  it('takes a memory out of the index when its new text could not be embedded', async () => {
    await projectAndIndex([makeEvent('k1', { type: 'MemoryWritten', value: 1 }, { text: 'old words here' })]);
    assert.equal((await search('old words here')).length, 1);
    const failed = await appendEnriched(env, embedder, [makeEvent('k1', { type: 'MemoryPatched', patch: 2 }, { text: 'new words there' })], { failed: true });
    await projector.project(failed);
    await index(failed);
    assert.deepEqual(await search('old words here'), [], 'the old text\'s vector must not answer for the new text');
    assert.equal(await vectors.count(collection()), 0);
  });

  it('indexes only vectors of the collection\'s model and revision, counting the others', async () => {
    // The same model id with other weights: its vectors cannot be compared with the index's.
    const retrained: Embedder = { ...embedder, model: { ...embedder.model, revision: 'other-weights' }, embed: (texts) => embedder.embed(texts) };
    const before = await skippedMetric();
    const records = await appendEnriched(env, retrained, [makeEvent('k1', { type: 'MemoryWritten', value: 1 }, { text: 'mismatched weights' })]);
    await projector.project(records);
    await index(records);
    assert.equal(await vectors.count(collection()), 0, 'a vector of another revision is not indexed');
    assert.equal((await skippedMetric()) - before, 1);

    // The configured model's vector for the same memory goes in.
    await projectAndIndex([makeEvent('k1', { type: 'MemoryPatched', patch: 2 }, { text: 'matched weights' })]);
    assert.equal((await search('matched weights'))[0]?.id, idOf('k1'));
  });

  const skippedMetric = async () => {
    const metric = await env.telemetry.metrics.vectorsSkipped.get();
    return metric.values.find((v) => v.labels.reason === 'model_mismatch')?.value ?? 0;
  };
});

describe('vector collections', () => {
  it('refuses to start on an index built by other weights of the same model, naming both', async () => {
    const env = await createLogEnv({ partitions: 1 });
    const dir = path.join(env.dir, 'vectors');
    try {
      const model = { id: 'sentence-model', revision: 'sha-a', dims: DIMS };
      let vectors = await createHnswVectorIndex({ path: dir });
      await ensureCollections(vectors, createVectorCollections({ textModel: model, clientModalities: { image: 3 } }));
      await vectors.close();

      vectors = await createHnswVectorIndex({ path: dir });
      try {
        // Same weights again: accepted.
        await ensureCollections(vectors, createVectorCollections({ textModel: model, clientModalities: { image: 3 } }));
        await assert.rejects(ensureCollections(vectors, createVectorCollections({ textModel: { ...model, revision: 'sha-b' }, clientModalities: { image: 3 } })), (error: Error & { code?: string; details?: Record<string, unknown> }) => {
          assert.equal(error.code, 'embedding_model_changed');
          assert.deepEqual(error.details, { collection: 'memories_text_g1', indexed: 'sentence-model@sha-a', configured: 'sentence-model@sha-b' });
          assert.match(error.message, /rebuild the index from the log/);
          return true;
        });
        // Other dims are still the port's own refusal.
        await assert.rejects(ensureCollections(vectors, createVectorCollections({ textModel: { ...model, dims: DIMS + 1 }, clientModalities: {} })), { code: 'collection_spec_mismatch' });
      } finally {
        await vectors.close();
      }
    } finally {
      await env.close();
    }
  });
});
