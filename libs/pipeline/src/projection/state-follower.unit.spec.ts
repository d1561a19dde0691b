import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { encodeEntityId } from '@engram/core';
import { createHashEmbedder, createLmdbKvStore, createLruCache, type KvStore } from '@engram/ports';
import type { PipelineCodecs } from '../codecs.js';
import { vectorWatermarkKey } from '../kv-keys.js';
import { appendEnriched, createLogEnv, createRecordingDeadLetters, makeEvent, type LogEnv } from '../pipeline.spec-helper.js';
import { createAppliedWatermarks, type AppliedWatermarks } from './applied-watermarks.js';
import { createProjector } from './projector.js';
import { recordHandoffFor } from './record-handoff.js';
import { createFollowerBatch, type FollowedEntity } from './state-follower.js';

const idOf = (key: string) => encodeEntityId({ tenant: 'acme', namespace: 'notes', key });

describe('state follower', () => {
  let env: LogEnv;
  let kv: KvStore;
  let kvWatermarks: AppliedWatermarks;
  let followerWatermarks: AppliedWatermarks;
  let decodes: number;
  let counting: PipelineCodecs;

  beforeEach(async () => {
    env = await createLogEnv({ partitions: 2 });
    kv = createLmdbKvStore({ path: path.join(env.dir, 'kv') });
    kvWatermarks = createAppliedWatermarks({ kv, partitions: 2, refreshMs: 5 });
    followerWatermarks = createAppliedWatermarks({ kv, partitions: 2, keyFor: vectorWatermarkKey, refreshMs: 5 });
    decodes = 0;
    const enriched = env.codecs.enriched;
    counting = { ...env.codecs, enriched: { encode: (v) => enriched.encode(v), decode: (b) => (decodes++, enriched.decode(b)) } };
  });
  afterEach(async () => {
    kvWatermarks.close();
    followerWatermarks.close();
    await kv.close();
    await env.close();
  });

  const follower = (seen: FollowedEntity[][], withHandoff: boolean) =>
    createFollowerBatch({
      kv,
      codecs: counting,
      kvWatermarks,
      watermarks: followerWatermarks,
      keyFor: vectorWatermarkKey,
      ...(withHandoff ? { handoff: recordHandoffFor(env.log, env.topics.enriched) } : {}),
      handle: async (entities) => void seen.push(entities),
    });

  it('takes what the projector of this process decoded instead of decoding again', async () => {
    const embedder = createHashEmbedder({ dims: 8 });
    const records = await appendEnriched(env, embedder, [
      makeEvent('k1', { type: 'MemoryWritten', value: 1 }, { text: 'one' }),
      makeEvent('k2', { type: 'MemoryWritten', value: 2 }),
      makeEvent('k1', { type: 'MemoryDeleted' }),
    ]);
    const projector = createProjector({ kv, cache: createLruCache(), log: env.log, codecs: env.codecs, topics: env.topics, watermarks: kvWatermarks, deadLetters: createRecordingDeadLetters(), telemetry: env.telemetry });

    // The follower may start first: it waits for the projector, then uses its summaries.
    const seen: FollowedEntity[][] = [];
    const first = follower(seen, true)(records.slice(0, 1));
    await projector.project(records);
    await first;
    await follower(seen, true)(records.slice(1));
    assert.equal(decodes, 1, 'only the record handed to the follower before any projector published was decoded');

    const byId = new Map(seen.flat().map((e) => [e.entityId, e]));
    assert.equal(byId.get(idOf('k1'))!.deletedInBatch, true);
    assert.equal(byId.get(idOf('k1'))!.state!.deleted, true);
    assert.equal(byId.get(idOf('k2'))!.state!.value, 2);
  });

  it('decodes itself when it has no hand-off', async () => {
    const records = await appendEnriched(env, createHashEmbedder({ dims: 8 }), [makeEvent('k1', { type: 'MemoryWritten', value: 1 })]);
    const projector = createProjector({ kv, cache: createLruCache(), log: env.log, codecs: env.codecs, topics: env.topics, watermarks: kvWatermarks, deadLetters: createRecordingDeadLetters(), telemetry: env.telemetry });
    await projector.project(records);
    const seen: FollowedEntity[][] = [];
    await follower(seen, false)(records);
    assert.equal(decodes, 1);
    assert.equal(seen.flat()[0]!.state!.value, 1);
  });

  it('lets readers go once the effects are durable, before its own watermark is stored', async () => {
    const records = await appendEnriched(env, createHashEmbedder({ dims: 8 }), [makeEvent('k1', { type: 'MemoryWritten', value: 1 })]);
    const projector = createProjector({ kv, cache: createLruCache(), log: env.log, codecs: env.codecs, topics: env.topics, watermarks: kvWatermarks, deadLetters: createRecordingDeadLetters(), telemetry: env.telemetry });
    await projector.project(records);
    // A KV store whose commit of the follower's watermark hangs until released.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const slowMarks: KvStore = { ...kv, batch: async (ops) => (await held, kv.batch(ops)) };
    const run = createFollowerBatch({ kv: slowMarks, codecs: counting, kvWatermarks, watermarks: followerWatermarks, keyFor: vectorWatermarkKey, handle: async () => undefined })(records);
    const position = new Map([[records[0]!.partition, 0]]);
    await followerWatermarks.waitFor(position, 2000); // rejects with consistency_timeout if it waited for the commit
    assert.equal(await kv.get(vectorWatermarkKey(records[0]!.partition)), undefined, 'the stored watermark is not written yet');
    release();
    await run;
    assert.ok(await kv.get(vectorWatermarkKey(records[0]!.partition)), 'then it is stored');
  });
  it('with storeEveryMs, stores its progress at most that often, and skips what it handled in between', async () => {
    const embedder = createHashEmbedder({ dims: 8 });
    const projector = createProjector({ kv, cache: createLruCache(), log: env.log, codecs: env.codecs, topics: env.topics, watermarks: kvWatermarks, deadLetters: createRecordingDeadLetters(), telemetry: env.telemetry });
    const seen: FollowedEntity[][] = [];
    const stores: number[] = [];
    const counted: KvStore = { ...kv, batch: async (ops) => (stores.push(ops.length), kv.batch(ops)) };
    const options = { kv: counted, codecs: env.codecs, kvWatermarks, watermarks: followerWatermarks, keyFor: vectorWatermarkKey, handle: async (e: FollowedEntity[]) => void seen.push(e) };
    const run = createFollowerBatch({ ...options, storeEveryMs: 60_000 });
    const first = await appendEnriched(env, embedder, [makeEvent('k1', { type: 'MemoryWritten', value: 1 })]);
    await projector.project(first);
    await run(first);
    const second = await appendEnriched(env, embedder, [makeEvent('k1', { type: 'MemoryWritten', value: 2 })]);
    await projector.project(second);
    await run(second);
    await run([...first, ...second]); // redelivered: skipped by the progress it keeps, not by KV's
    assert.deepEqual(seen.flat().map((e) => e.state?.value), [1, 2]);
    assert.equal(stores.length, 1, 'stored once (the first batch), not after every batch');
    const partition = first[0]!.partition;
    assert.deepEqual(JSON.parse((await kv.get(vectorWatermarkKey(partition)))!.toString()).enrichedOffset, first[0]!.offset);

    // A restart resumes from what was stored: the second batch is handled again (harmless), not the first.
    const after: FollowedEntity[][] = [];
    await createFollowerBatch({ ...options, handle: async (e) => void after.push(e) })([...first, ...second]);
    assert.deepEqual(after.flat().map((e) => e.state?.value), [2]);
  });

  it('stores a skipped batch when the interval ends, and at once after a batch that handed something on (storeWhenHandled)', async () => {
    const embedder = createHashEmbedder({ dims: 8 });
    const projector = createProjector({ kv, cache: createLruCache(), log: env.log, codecs: env.codecs, topics: env.topics, watermarks: kvWatermarks, deadLetters: createRecordingDeadLetters(), telemetry: env.telemetry });
    const storedOffset = async (partition: number) => {
      const buf = await kv.get(vectorWatermarkKey(partition));
      return buf ? (JSON.parse(buf.toString()) as { enrichedOffset: number }).enrichedOffset : undefined;
    };
    const append = async (key: string, text?: string) => {
      const records = await appendEnriched(env, embedder, [makeEvent(key, { type: 'MemoryWritten', value: 1 }, text === undefined ? {} : { text })]);
      await projector.project(records);
      return records[0]!;
    };
    // Like the vector indexer: only records with vectors concern it.
    const run = createFollowerBatch({
      kv,
      codecs: env.codecs,
      kvWatermarks,
      watermarks: followerWatermarks,
      keyFor: vectorWatermarkKey,
      storeEveryMs: 1000, // long enough that appending and projecting the next record fits in it
      storeWhenHandled: true,
      concerns: (summary) => summary.vectors,
      handoff: recordHandoffFor(env.log, env.topics.enriched), // where the projector says which records concern vectors
      handle: async () => undefined,
    });

    const a = await append('same');
    await run([a]); // the first batch stores (nothing stored before)
    assert.equal(await storedOffset(a.partition), a.offset);
    const b = await append('same');
    await run([b]); // concerns nobody: its store waits for the interval's end
    assert.equal(await storedOffset(b.partition), a.offset, 'not stored at once');
    const deadline = Date.now() + 5000;
    while ((await storedOffset(b.partition)) !== b.offset && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await storedOffset(b.partition), b.offset, 'stored by the timer');

    const c = await append('same', 'some text to embed');
    await run([c]); // handed on: stored at once, inside the interval
    assert.equal(await storedOffset(c.partition), c.offset);
  });
});
