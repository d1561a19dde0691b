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
});
