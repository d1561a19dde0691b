import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { encodeEntityId, partitionForEntity, type EventOutcome, type LogPosition, type MemoryEvent, type MemoryState } from '@engram/core';
import { createHashEmbedder, createLmdbKvStore, embeddingModelKey, createLruCache, type Cache, type Embedder, type KvStore, type StoredRecord } from '@engram/ports';
import { changelogWatermarkKey, embeddingKey, historyPrefix, parseJson, stateKey, watermarkKey } from '../kv-keys.js';
import {
  appendEnriched,
  appendUndecodable,
  createLogEnv,
  createRecordingDeadLetters,
  keyOnPartition,
  makeEvent,
  type LogEnv,
  type RecordedDeadLetter,
} from '../pipeline.spec-helper.js';
import { kvKeywordPostings, searchKeyword } from '../search/index.js';
import { createSignal, type Signal } from '../signal.js';
import { createAppliedWatermarks, type AppliedWatermarks, type Watermark } from './applied-watermarks.js';
import { createChangelogBatch } from './changelog-emitter.js';
import { createProjector, type Projector } from './projector.js';
import { decodeVector, type StoredEmbeddings } from './vector-updates.js';

const PARTITIONS = 2;
const idOf = (key: string) => encodeEntityId({ tenant: 'acme', namespace: 'notes', key });
const partitionOf = (key: string) => partitionForEntity(idOf(key), PARTITIONS);

interface HistoryEntry {
  event: MemoryEvent;
  outcome: EventOutcome;
  position: LogPosition;
  source: LogPosition;
}

describe('projector', () => {
  let env: LogEnv;
  let kv: KvStore;
  let cache: Cache;
  let watermarks: AppliedWatermarks;
  let changelogWatermarks: AppliedWatermarks;
  let deadLetters: { sent: RecordedDeadLetter[] };
  let embedder: Embedder;
  let notified: number;
  let projector: Projector;

  beforeEach(async () => {
    env = await createLogEnv({ partitions: PARTITIONS });
    kv = createLmdbKvStore({ path: path.join(env.dir, 'kv') });
    cache = createLruCache();
    watermarks = createAppliedWatermarks({ kv, partitions: PARTITIONS, refreshMs: 5 });
    embedder = createHashEmbedder({ dims: 16 });
    notified = 0;
    const signal = createSignal();
    const stateAppended: Signal = { notify: () => { notified++; signal.notify(); }, wait: signal.wait };
    const sink = createRecordingDeadLetters();
    deadLetters = sink;
    // The changelog is emitted by a follower right behind the projector; run both, as the runtime does.
    const inner = createProjector({ kv, cache, log: env.log, codecs: env.codecs, topics: env.topics, watermarks, deadLetters: sink, telemetry: env.telemetry });
    changelogWatermarks = createAppliedWatermarks({ kv, partitions: PARTITIONS, keyFor: changelogWatermarkKey, refreshMs: 5 });
    const emit = createChangelogBatch({ log: env.log, kv, codecs: env.codecs, topics: env.topics, kvWatermarks: watermarks, changelogWatermarks, stateAppended, deadLetters: sink, telemetry: env.telemetry });
    projector = {
      async project(records) {
        const result = await inner.project(records);
        await emit(records);
        return result;
      },
    };
  });
  afterEach(async () => {
    watermarks.close();
    changelogWatermarks.close();
    await kv.close();
    await env.close();
  });

  const append = (events: MemoryEvent[]) => appendEnriched(env, embedder, events);
  const state = async (key: string) => {
    const buf = await kv.get(stateKey(idOf(key)));
    return buf ? parseJson<MemoryState>(buf) : undefined;
  };
  const history = async (key: string) =>
    (await kv.scan({ prefix: historyPrefix(idOf(key)), limit: 100 })).entries.map((e) => parseJson<HistoryEntry>(e.value));
  const watermark = async (partition: number) => {
    const buf = await kv.get(watermarkKey(partition));
    return buf ? parseJson<Watermark>(buf) : undefined;
  };
  const changelog = async (partition: number) => env.log.read(env.topics.state, partition, 0, 100);
  const storedEmbeddings = async (key: string) => {
    const buf = await kv.get(embeddingKey(idOf(key)));
    return buf ? parseJson<StoredEmbeddings>(buf) : undefined;
  };
  const keywordHits = async (text: string) => (await searchKeyword(kvKeywordPostings(kv), { tenant: 'acme', text, k: 10 })).map((h) => h.entityId);

  it('applies a MemoryWritten to state, history (with the outcome), watermark, cache and changelog', async () => {
    const event = makeEvent('k1', { type: 'MemoryWritten', value: { a: 1 } }, { text: 'the quick brown fox', metadata: { agentId: 'planner', tags: ['b', 'a'], attributes: {} } });
    const records = await append([event]);
    const [record] = records as [StoredRecord];
    const p = partitionOf('k1');
    assert.equal(record.partition, p);
    const source = (await env.codecs.enriched.decode(record.value!)).source;

    assert.deepEqual(await projector.project(records), { applied: 1, rejected: 0, skipped: 0 });

    const s = await state('k1');
    assert.ok(s);
    assert.deepEqual(s.value, { a: 1 });
    assert.equal(s.version, 1);
    assert.equal(s.text, 'the quick brown fox');
    assert.deepEqual(s.metadata.tags, ['a', 'b']);
    assert.equal(s.metadata.agentId, 'planner');
    assert.equal(s.embeddingModel, embeddingModelKey(embedder.model));
    assert.deepEqual(s.lastApplied, { partition: p, offset: record.offset });

    const [entry, ...more] = await history('k1');
    assert.equal(more.length, 0);
    assert.equal(entry!.event.eventId, event.eventId);
    assert.deepEqual(entry!.outcome, { status: 'applied', version: 1 });
    assert.deepEqual(entry!.position, { partition: p, offset: record.offset });
    assert.deepEqual(entry!.source, source);

    assert.deepEqual(await watermark(p), { enrichedOffset: record.offset, sourceOffset: source.offset });
    assert.equal(await watermark(1 - p), undefined, 'an untouched partition gets no watermark');

    const cached = await cache.get(idOf('k1'));
    assert.equal(cached?.version, 1);
    assert.deepEqual(parseJson(cached!.value), s);

    const [changed, ...otherChanges] = await changelog(p);
    assert.equal(otherChanges.length, 0);
    assert.equal(changed!.key, idOf('k1'));
    const decoded = await env.codecs.state.decode(changed!.value!);
    assert.equal(decoded.version, 1);
    assert.deepEqual(decoded.value, { a: 1 });
    assert.equal(decoded.text, 'the quick brown fox');

    assert.equal(notified, 1);
    assert.equal(watermarks.isApplied(new Map([[p, source.offset]])), true);
    assert.equal(watermarks.isApplied(new Map([[p, source.offset + 1]])), false);
  });

  it('skips a redelivered batch without changing anything', async () => {
    const records = await append([makeEvent('k1', { type: 'MemoryWritten', value: 1 }, { text: 'hello' })]);
    await projector.project(records);
    const p = partitionOf('k1');
    const before = { state: await state('k1'), mark: await watermark(p) };

    assert.deepEqual(await projector.project(records), { applied: 0, rejected: 0, skipped: 1 });

    assert.deepEqual(await state('k1'), before.state);
    assert.equal((await history('k1')).length, 1);
    assert.equal((await changelog(p)).length, 1, 'no second changelog record');
    assert.deepEqual(await watermark(p), before.mark);
    assert.equal(notified, 1, 'no wake-up for a batch that changed nothing');

    // A redelivery that overlaps new records applies only the new ones.
    const next = await append([makeEvent('k1', { type: 'MemoryPatched', patch: 2 })]);
    assert.deepEqual(await projector.project([...records, ...next]), { applied: 1, rejected: 0, skipped: 1 });
    assert.equal((await state('k1'))?.version, 2);
    assert.equal((await history('k1')).length, 2);
  });

  it('rejects a stale expectedVersion and records why', async () => {
    await projector.project(await append([makeEvent('k1', { type: 'MemoryWritten', value: 'first' })]));
    const p = partitionOf('k1');
    const stale = makeEvent('k1', { type: 'MemoryWritten', value: 'second' }, { expectedVersion: 0 });
    const records = await append([stale]);

    assert.deepEqual(await projector.project(records), { applied: 0, rejected: 1, skipped: 0 });

    const s = await state('k1');
    assert.equal(s?.version, 1);
    assert.equal(s?.value, 'first');
    const entries = await history('k1');
    assert.equal(entries.length, 2);
    assert.equal(entries[1]!.event.eventId, stale.eventId);
    assert.equal(entries[1]!.outcome.status, 'rejected');
    assert.equal((entries[1]!.outcome as { code: string }).code, 'version_conflict');
    assert.equal((await watermark(p))?.enrichedOffset, records[0]!.offset, 'the watermark moves past a rejected event');
    assert.equal((await changelog(p)).length, 1, 'a rejection publishes no new state');
  });

  it('dead-letters an undecodable record and still moves the watermark past it', async () => {
    const key = keyOnPartition(0, PARTITIONS);
    const poison = await appendUndecodable(env, 0);
    const [good] = await append([makeEvent(key, { type: 'MemoryWritten', value: 1 })]);

    assert.deepEqual(await projector.project([poison, good!]), { applied: 1, rejected: 0, skipped: 0 });
    assert.equal(deadLetters.sent.length, 1);
    assert.equal(deadLetters.sent[0]!.code, 'undecodable_record');
    assert.equal(deadLetters.sent[0]!.record.offset, poison.offset);
    assert.equal((await watermark(0))?.enrichedOffset, good!.offset);
    assert.equal((await state(key))?.version, 1);

    // A batch of only the poison record still records progress, and its redelivery is not re-sent.
    const poison2 = await appendUndecodable(env, 0);
    await projector.project([poison2]);
    assert.equal((await watermark(0))?.enrichedOffset, poison2.offset);
    assert.deepEqual(await projector.project([poison, good!, poison2]), { applied: 0, rejected: 0, skipped: 3 });
    assert.equal(deadLetters.sent.length, 2);
  });

  it('folds several events of one entity in one batch, in order', async () => {
    const records = await append([
      makeEvent('k1', { type: 'MemoryWritten', value: { a: 1 } }),
      makeEvent('k1', { type: 'MemoryPatched', patch: { b: 2 } }, { expectedVersion: 1 }),
      makeEvent('k1', { type: 'MemoryPatched', patch: { a: null, c: 3 } }, { expectedVersion: 2 }),
    ]);
    assert.deepEqual(await projector.project(records), { applied: 3, rejected: 0, skipped: 0 });

    const s = await state('k1');
    assert.deepEqual(s?.value, { b: 2, c: 3 });
    assert.equal(s?.version, 3);
    assert.deepEqual(s?.lastApplied, { partition: partitionOf('k1'), offset: records[2]!.offset });
    assert.deepEqual((await history('k1')).map((e) => e.outcome), [1, 2, 3].map((version) => ({ status: 'applied', version })));
    const published = await changelog(partitionOf('k1'));
    assert.equal(published.length, 1, 'one changelog record per entity and batch');
    assert.equal((await env.codecs.state.decode(published[0]!.value!)).version, 3);
    assert.equal((await cache.get(idOf('k1')))?.version, 3);
  });

  it('keeps the cache current, for new memories and for existing ones', async () => {
    await projector.project(await append([makeEvent('k1', { type: 'MemoryWritten', value: 1 })]));
    assert.equal((await cache.get(idOf('k1')))?.version, 1);
    await projector.project(await append([makeEvent('k1', { type: 'MemoryWritten', value: 2 }), makeEvent('k2', { type: 'MemoryWritten', value: 3 })]));
    const cached = await cache.get(idOf('k1'));
    assert.equal(cached?.version, 2);
    assert.deepEqual(parseJson(cached!.value), await state('k1'));
    assert.equal((await cache.get(idOf('k2')))?.version, 1);
  });

  it('applies events of several entities on several partitions in one batch', async () => {
    const a = keyOnPartition(0, PARTITIONS, 'a');
    const b = keyOnPartition(1, PARTITIONS, 'b');
    const c = keyOnPartition(1, PARTITIONS, 'c');
    const records = await append([
      makeEvent(a, { type: 'MemoryWritten', value: 'A' }),
      makeEvent(b, { type: 'CounterIncremented', delta: 5 }),
      makeEvent(c, { type: 'SetElementsAdded', elements: ['x', 'y'] }),
      makeEvent(b, { type: 'CounterIncremented', delta: -2 }),
    ]);
    assert.deepEqual(await projector.project(records), { applied: 4, rejected: 0, skipped: 0 });

    assert.equal((await state(a))?.value, 'A');
    assert.equal((await state(b))?.value, 3);
    assert.equal((await state(b))?.version, 2);
    assert.deepEqual((await state(c))?.value, ['x', 'y']);
    const sources = await Promise.all(records.map(async (r) => (await env.codecs.enriched.decode(r.value!)).source));
    assert.deepEqual(await watermark(0), { enrichedOffset: records[0]!.offset, sourceOffset: sources[0]!.offset });
    assert.deepEqual(await watermark(1), { enrichedOffset: records[3]!.offset, sourceOffset: sources[3]!.offset });
    assert.equal((await changelog(0)).length, 1);
    assert.deepEqual((await changelog(1)).map((r) => r.key).sort(), [idOf(b), idOf(c)].sort());
    assert.equal(watermarks.isApplied(new Map([[0, sources[0]!.offset], [1, sources[3]!.offset]])), true);
  });

  it('writes keyword postings and removes them when the memory is deleted', async () => {
    await projector.project(await append([makeEvent('k1', { type: 'MemoryWritten', value: 1 }, { text: 'zebras graze on the savannah' })]));
    assert.deepEqual(await keywordHits('zebras'), [idOf('k1')]);

    // New text replaces the old terms.
    await projector.project(await append([makeEvent('k1', { type: 'MemoryPatched', patch: 2 }, { text: 'penguins swim' })]));
    assert.deepEqual(await keywordHits('zebras'), []);
    assert.deepEqual(await keywordHits('penguins'), [idOf('k1')]);

    await projector.project(await append([makeEvent('k1', { type: 'MemoryDeleted' })]));
    assert.deepEqual(await keywordHits('penguins'), []);
    assert.equal((await state('k1'))?.deleted, true);
  });

  it('stores the current embedding under v|<entityId> and removes it on delete', async () => {
    const text = 'embeddings round trip';
    await projector.project(await append([makeEvent('k1', { type: 'MemoryWritten', value: 1 }, { text })]));
    const [expected] = await embedder.embed([text]);
    const stored = await storedEmbeddings('k1');
    assert.equal(stored?.text?.model, embeddingModelKey(embedder.model));
    assert.deepEqual(decodeVector(stored!.text!.vector), expected);

    // A metadata-only patch keeps the stored vector.
    await projector.project(await append([makeEvent('k1', { type: 'MemoryPatched', patch: 2 }, { metadata: { tags: ['t'], attributes: {} } })]));
    assert.deepEqual(decodeVector((await storedEmbeddings('k1'))!.text!.vector), expected);

    await projector.project(await append([makeEvent('k1', { type: 'MemoryDeleted' })]));
    assert.equal(await storedEmbeddings('k1'), undefined);
  });

  it('drops the old text\'s vector when a new text could not be embedded, and keeps client vectors', async () => {
    await projector.project(await append([makeEvent('k1', { type: 'MemoryWritten', value: 1 }, { text: 'first text', vectors: { image: [1, 0, 0] } })]));
    assert.deepEqual(Object.keys((await storedEmbeddings('k1')) ?? {}).sort(), ['image', 'text']);

    await projector.project(await appendEnriched(env, embedder, [makeEvent('k1', { type: 'MemoryPatched', patch: 2 }, { text: 'second text' })], { failed: true }));
    const s = await state('k1');
    assert.equal(s?.text, 'second text');
    assert.equal(s?.embeddingModel, undefined, 'the state claims no model for a text without a vector');
    assert.deepEqual(Object.keys((await storedEmbeddings('k1')) ?? {}), ['image'], 'the first text\'s vector must not answer for the second');

    // A metadata-only patch afterwards changes nothing about vectors.
    await projector.project(await append([makeEvent('k1', { type: 'MemoryPatched', patch: 3 }, { metadata: { tags: ['t'], attributes: {} } })]));
    assert.deepEqual(Object.keys((await storedEmbeddings('k1')) ?? {}), ['image']);
  });

  it('drops the embedding of deleted text even when a rewrite without text follows in the same batch', async () => {
    await projector.project(await append([makeEvent('k1', { type: 'MemoryWritten', value: 1 }, { text: 'secret plans' })]));
    await projector.project(
      await append([makeEvent('k1', { type: 'MemoryDeleted' }), makeEvent('k1', { type: 'MemoryWritten', value: 'fresh start' })]),
    );
    const s = await state('k1');
    assert.equal(s?.version, 3);
    assert.equal(s?.text, undefined);
    assert.equal(await storedEmbeddings('k1'), undefined, 'the deleted text must not stay embedded (batch by batch it does not)');

    // The same inside one batch from scratch: write with text, delete, rewrite without text.
    await projector.project(
      await append([
        makeEvent('k2', { type: 'MemoryWritten', value: 1 }, { text: 'more secrets' }),
        makeEvent('k2', { type: 'MemoryDeleted' }),
        makeEvent('k2', { type: 'MemoryWritten', value: 2 }),
      ]),
    );
    assert.equal(await storedEmbeddings('k2'), undefined);

    // A rewrite with new text in that batch keeps exactly the new vector.
    await projector.project(await append([makeEvent('k2', { type: 'MemoryDeleted' }), makeEvent('k2', { type: 'MemoryWritten', value: 3 }, { text: 'new leaf' })]));
    const [fresh] = await embedder.embed(['new leaf']);
    assert.deepEqual(decodeVector((await storedEmbeddings('k2'))!.text!.vector), fresh);
  });
});
