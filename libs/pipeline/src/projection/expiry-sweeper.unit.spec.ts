import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createHybridClock, DEFAULT_LIMITS, encodeEntityId, hlcFromWallMs } from '@engram/core';
import { createHashEmbedder, createLmdbKvStore, createLruCache, type KvStore } from '@engram/ports';
import { createIngestService, type IngestService } from '../ingest/ingest-service.js';
import { EXPIRY_PREFIX, parseJson, stateKey } from '../kv-keys.js';
import { appendEnriched, createLogEnv, createRecordingDeadLetters, makeEvent, type LogEnv } from '../pipeline.spec-helper.js';
import { createAppliedWatermarks, type AppliedWatermarks } from './applied-watermarks.js';
import { startExpirySweeper, sweepEventId } from './expiry-sweeper.js';
import { createProjector, type Projector } from './projector.js';
import type { MemoryState } from '@engram/core';

describe('expiry sweeper', () => {
  let env: LogEnv;
  let kv: KvStore;
  let watermarks: AppliedWatermarks;
  let projector: Projector;
  let ingest: IngestService;
  const embedder = createHashEmbedder({ dims: 16 });

  beforeEach(async () => {
    env = await createLogEnv({ partitions: 2 });
    kv = createLmdbKvStore({ path: path.join(env.dir, 'kv') });
    watermarks = createAppliedWatermarks({ kv, partitions: 2 });
    projector = createProjector({ kv, cache: createLruCache(), log: env.log, codecs: env.codecs, topics: env.topics, watermarks, deadLetters: createRecordingDeadLetters(), telemetry: env.telemetry });
    ingest = createIngestService({ log: env.log, codecs: env.codecs, topics: env.topics, limits: DEFAULT_LIMITS, clock: createHybridClock(), telemetry: env.telemetry });
  });
  afterEach(async () => {
    watermarks.close();
    await kv.close();
    await env.close();
  });

  const expiryEntries = async () => (await kv.scan({ prefix: EXPIRY_PREFIX, limit: 100 })).entries.map((e) => e.key);

  it('indexes expiring memories, and appends one guarded deletion per expired memory', async () => {
    const now = Date.now();
    const soon = makeEvent('soon', { type: 'MemoryWritten', value: 1 }, { expiresAt: now + 1000, hlc: hlcFromWallMs(now) });
    const later = makeEvent('later', { type: 'MemoryWritten', value: 2 }, { expiresAt: now + 60_000, hlc: hlcFromWallMs(now) + 1 });
    const forever = makeEvent('forever', { type: 'MemoryWritten', value: 3 });
    await projector.project(await appendEnriched(env, embedder, [soon, later, forever]));
    assert.equal((await expiryEntries()).length, 2, 'only memories with expiresAt are indexed');

    const sweeper = startExpirySweeper({ kv, ingest, telemetry: env.telemetry, intervalMs: 3_600_000 });
    try {
      assert.equal(await sweeper.sweepOnce(now), 0, 'nothing is due yet');
      assert.equal(await sweeper.sweepOnce(now + 1500), 1);
      const ends = await env.log.endOffsets(env.topics.events);
      assert.equal(await sweeper.sweepOnce(now + 1500), 1, 'a repeat sweep before the deletion is applied…');
      assert.deepEqual(await env.log.endOffsets(env.topics.events), ends, '…is a duplicate and appends nothing');

      const appended = (await Promise.all([0, 1].map((p) => env.log.read(env.topics.events, p, 0, 100)))).flat();
      const deletions = await Promise.all(appended.map((r) => env.codecs.event.decode(r.value!)));
      const sweep = deletions.find((e) => e.type === 'MemoryDeleted')!;
      assert.equal(sweep.key, 'soon');
      assert.equal(sweep.expectedVersion, 1);
      assert.equal(sweep.eventId, sweepEventId(encodeEntityId(soon), 1));

      // Once the deletion is projected, the memory is deleted and leaves the expiry index.
      await projector.project(await appendEnriched(env, embedder, [sweep]));
      const state = parseJson<MemoryState>((await kv.get(stateKey(encodeEntityId(soon))))!);
      assert.equal(state.deleted, true);
      assert.equal((await expiryEntries()).length, 1);
    } finally {
      await sweeper.stop();
    }
  });
});
