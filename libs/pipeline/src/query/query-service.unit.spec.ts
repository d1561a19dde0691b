import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { DEFAULT_LIMITS, EngramError, applyEvent, encodeEntityId, hlcFromWallMs, type EventOutcome, type MemoryEvent, type MemoryState } from '@engram/core';
import { createLmdbKvStore, createLruCache, type Cache, type KvStore } from '@engram/ports';
import { encodeToken } from '../consistency-token.js';
import { historyKey, json, stateKey, watermarkKey } from '../kv-keys.js';
import { silentTelemetry, tempDir } from '../pipeline.spec-helper.js';
import { createAppliedWatermarks, type AppliedWatermarks } from '../projection/applied-watermarks.js';
import { createQueryService, type QueryService } from './query-service.js';

const T0 = Date.UTC(2024, 0, 1);
const MINUTE = 60_000;

type EventSpec = { type: 'MemoryWritten'; value: unknown } | { type: 'MemoryPatched'; patch: unknown } | { type: 'MemoryDeleted' };

let seq = 0;
function makeEvent(tenant: string, namespace: string, key: string, spec: EventSpec, atMs: number, extra: Partial<MemoryEvent> = {}): MemoryEvent {
  return { eventId: `ev-${++seq}`, tenant, namespace, key, actor: 'agent-1', hlc: hlcFromWallMs(atMs), metadata: { tags: [], attributes: {} }, ...spec, ...extra } as MemoryEvent;
}

function hasCode(code: string) {
  return (error: unknown) => error instanceof EngramError && error.code === code;
}

describe('query service', () => {
  let dir: string;
  let kv: KvStore;
  let cache: Cache;
  let watermarks: AppliedWatermarks;
  let query: QueryService;
  let nextOffset = 0;

  beforeEach(() => {
    dir = tempDir();
    kv = createLmdbKvStore({ path: dir });
    cache = createLruCache();
    watermarks = createAppliedWatermarks({ kv, partitions: 4, refreshMs: 5 });
    query = createQueryService({ kv, cache, watermarks, limits: DEFAULT_LIMITS, consistencyTimeoutMs: 150, telemetry: silentTelemetry() });
  });
  afterEach(async () => {
    watermarks.close();
    await kv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Folds the events of one entity as the projection would and stores state and history (with the outcomes). */
  async function seed(events: MemoryEvent[], options: { history?: boolean } = {}): Promise<MemoryState | undefined> {
    let state: MemoryState | undefined;
    const ops = [];
    for (const event of events) {
      const position = { partition: 1, offset: nextOffset++ };
      const result = applyEvent(state, event, position);
      state = result.state;
      const id = encodeEntityId(event);
      if (options.history ?? true) ops.push({ type: 'put' as const, key: historyKey(id, position.offset), value: json({ event, outcome: result.outcome, position, source: position }) });
    }
    if (state) ops.push({ type: 'put' as const, key: stateKey(encodeEntityId(state)), value: json(state) });
    await kv.batch(ops);
    return state;
  }

  const write = (key: string, value: unknown, atMs = T0, extra: Partial<MemoryEvent> = {}, tenant = 'acme', namespace = 'notes') =>
    makeEvent(tenant, namespace, key, { type: 'MemoryWritten', value }, atMs, extra);
  const remove = (key: string, atMs = T0 + MINUTE, tenant = 'acme', namespace = 'notes') => makeEvent(tenant, namespace, key, { type: 'MemoryDeleted' }, atMs);

  describe('get', () => {
    it('returns the current state as a view', async () => {
      await seed([write('k', { a: 1 }, T0, { text: 'hello' }), makeEvent('acme', 'notes', 'k', { type: 'MemoryPatched', patch: { b: 2 } }, T0 + MINUTE)]);
      const view = await query.get('acme', 'notes', 'k');
      assert.deepEqual(view.value, { a: 1, b: 2 });
      assert.equal(view.version, 2);
      assert.equal(view.text, 'hello');
      assert.equal(view.kind, 'document');
      assert.equal(view.createdAt, new Date(T0).toISOString());
      assert.equal(view.updatedAt, new Date(T0 + MINUTE).toISOString());
      assert.equal('lastApplied' in view, false, 'no internal positions leak');
    });

    it('answers memory_not_found for a missing, deleted or expired memory', async () => {
      await seed([write('gone', 1), remove('gone')]);
      await seed([write('old', 1, T0, { expiresAt: Date.now() - 1000 })]);
      await seed([write('fresh', 1, T0, { expiresAt: Date.now() + 3_600_000 })]);
      for (const key of ['missing', 'gone', 'old']) await assert.rejects(query.get('acme', 'notes', key), hasCode('memory_not_found'), key);
      assert.equal((await query.get('acme', 'notes', 'fresh')).value, 1);
    });

    it("never shows another tenant's memory with the same namespace and key", async () => {
      await seed([write('shared', 'beta-secret', T0, {}, 'beta')]);
      await assert.rejects(query.get('acme', 'notes', 'shared'), hasCode('memory_not_found'));
      await seed([write('shared', 'acme-own')]);
      assert.equal((await query.get('acme', 'notes', 'shared')).value, 'acme-own');
      assert.equal((await query.get('beta', 'notes', 'shared')).value, 'beta-secret');
    });

    it('validates namespace and key', async () => {
      await assert.rejects(query.get('acme', 'bad ns', 'k'), hasCode('invalid_namespace'));
      await assert.rejects(query.get('acme', 'notes', 'a|b'), hasCode('invalid_key'));
      await assert.rejects(query.get('acme', 'notes/../x', 'k'), hasCode('invalid_namespace'));
    });

    it('serves the second read from the L1 cache', async () => {
      const telemetry = silentTelemetry();
      const q = createQueryService({ kv, cache: createLruCache(), watermarks, limits: DEFAULT_LIMITS, consistencyTimeoutMs: 150, telemetry });
      await seed([write('hot', 'v')]);
      await q.get('acme', 'notes', 'hot');
      await q.get('acme', 'notes', 'hot');
      const counts = Object.fromEntries((await telemetry.metrics.cacheLookups.get()).values.map((v) => [`${v.labels.tier}:${v.labels.result}`, v.value]));
      assert.deepEqual(counts, { 'l1:miss': 1, 'kv:hit': 1, 'l1:hit': 1 });
    });

    it('renders the answer once per stored state and never serves a stale one', async () => {
      await seed([write('r', { n: 1 })]);
      const first = await query.getRendered('acme', 'notes', 'r');
      assert.deepEqual(JSON.parse(first.json), await query.get('acme', 'notes', 'r'));
      assert.equal(first.etag, '"1"');
      assert.equal(await query.getRendered('acme', 'notes', 'r'), first, 'a cache hit reuses the rendered answer');

      // The projection stores a new state and refreshes the cache: the next read renders it.
      const state = await seed([write('r', { n: 1 }), write('r', { n: 2 })]);
      await cache.set(encodeEntityId(state!), { value: json(state), version: state!.version });
      const second = await query.getRendered('acme', 'notes', 'r');
      assert.deepEqual(JSON.parse(second.json).value, { n: 2 });
      assert.equal(second.etag, '"2"');
      assert.ok(Object.isFrozen(await query.get('acme', 'notes', 'r')), 'a shared view cannot be modified by a caller');
    });

    describe('asOf', () => {
      beforeEach(async () => {
        await seed([
          write('doc', { v: 1 }, T0),
          write('doc', { v: 2 }, T0 + 10 * MINUTE),
          // Stale writer: rejected, must change nothing in a point-in-time read either.
          write('doc', { v: 'stale' }, T0 + 15 * MINUTE, { expectedVersion: 0 }),
          makeEvent('acme', 'notes', 'doc', { type: 'MemoryPatched', patch: { w: true } }, T0 + 20 * MINUTE),
          remove('doc', T0 + 30 * MINUTE),
        ]);
      });

      it('folds the history up to the given time', async () => {
        const at = (ms: number) => query.get('acme', 'notes', 'doc', { asOf: String(ms) });
        assert.deepEqual((await at(T0)).value, { v: 1 });
        assert.deepEqual((await at(T0 + 5 * MINUTE)).value, { v: 1 });
        const second = await at(T0 + 16 * MINUTE);
        assert.deepEqual(second.value, { v: 2 });
        assert.equal(second.version, 2);
        const patched = await query.get('acme', 'notes', 'doc', { asOf: new Date(T0 + 25 * MINUTE).toISOString() });
        assert.deepEqual(patched.value, { v: 2, w: true });
        assert.equal(patched.version, 3);
      });

      it('is not found before the first event and after the delete', async () => {
        await assert.rejects(query.get('acme', 'notes', 'doc', { asOf: String(T0 - 1) }), hasCode('memory_not_found'));
        await assert.rejects(query.get('acme', 'notes', 'doc', { asOf: String(T0 + 31 * MINUTE) }), hasCode('memory_not_found'));
        await assert.rejects(query.get('acme', 'notes', 'doc'), hasCode('memory_not_found'));
      });

      it('rejects a time that is neither ISO-8601 nor epoch ms', async () => {
        await assert.rejects(query.get('acme', 'notes', 'doc', { asOf: 'yesterday' }), hasCode('invalid_field'));
      });
    });
  });

  describe('list', () => {
    /** k00…k11 in "notes": every third deleted, k04 and k10 expired. */
    async function seedMany(): Promise<string[]> {
      const visible: string[] = [];
      for (let i = 0; i < 12; i++) {
        const key = `k${String(i).padStart(2, '0')}`;
        if (i % 3 === 2) await seed([write(key, i), remove(key)]);
        else if (i === 4 || i === 10) await seed([write(key, i, T0, { expiresAt: Date.now() - 1 })]);
        else {
          await seed([write(key, i)]);
          visible.push(key);
        }
      }
      return visible;
    }

    async function listAll(limit: number, extra: { prefix?: string } = {}): Promise<{ keys: string[]; pages: number }> {
      const keys: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await query.list('acme', 'notes', { limit, cursor, ...extra });
        assert.ok(page.items.length <= limit, 'a page never exceeds the limit');
        keys.push(...page.items.map((v) => v.key));
        cursor = page.cursor;
        assert.ok(++pages < 50, 'paging terminates');
      } while (cursor !== undefined);
      return { keys, pages };
    }

    it('pages through visible memories exactly once, in key order, skipping deleted and expired ones', async () => {
      const visible = await seedMany();
      assert.equal(visible.length, 6);
      for (const limit of [1, 2, 3, 5, 100]) {
        const { keys } = await listAll(limit);
        assert.deepEqual(keys, visible, `limit ${limit}`);
      }
      const first = await query.list('acme', 'notes', { limit: 2 });
      assert.deepEqual(first.items.map((v) => v.key), ['k00', 'k01']);
      assert.ok(first.cursor);
      const all = await query.list('acme', 'notes');
      assert.equal(all.cursor, undefined);
      assert.equal(all.items.length, 6);
    });

    it('filters by key prefix', async () => {
      await seedMany();
      assert.deepEqual((await listAll(2, { prefix: 'k0' })).keys, ['k00', 'k01', 'k03', 'k06', 'k07', 'k09']);
      // k10 expired and k11 deleted: nothing visible under "k1".
      assert.deepEqual((await listAll(2, { prefix: 'k1' })).keys, []);
      assert.deepEqual((await listAll(2, { prefix: 'k03' })).keys, ['k03']);
    });

    it('ends with an empty page when only invisible entries are left', async () => {
      await seed([write('a', 1)]);
      await seed([write('b', 1)]);
      await seed([write('c', 1), remove('c')]);
      await seed([write('d', 1), remove('d')]);
      const first = await query.list('acme', 'notes', { limit: 2 });
      assert.deepEqual(first.items.map((v) => v.key), ['a', 'b']);
      assert.ok(first.cursor);
      const second = await query.list('acme', 'notes', { limit: 2, cursor: first.cursor });
      assert.deepEqual(second, { items: [] });
    });

    it('stays within the tenant and the exact namespace', async () => {
      await seed([write('mine', 1)]);
      await seed([write('theirs', 1, T0, {}, 'beta')]);
      await seed([write('neighbour', 1, T0, {}, 'acme', 'notesx')]);
      assert.deepEqual((await query.list('acme', 'notes')).items.map((v) => v.key), ['mine']);
      assert.deepEqual((await query.list('beta', 'notes')).items.map((v) => v.key), ['theirs']);
      assert.deepEqual((await query.list('acme', 'note')).items, []);
    });

    it('refuses a cursor of another listing with invalid_cursor', async () => {
      await seedMany();
      await seed([write('x1', 1, T0, {}, 'beta')]);
      await seed([write('x2', 1, T0, {}, 'beta')]);
      const { cursor } = await query.list('acme', 'notes', { limit: 1 });
      assert.ok(cursor);
      await assert.rejects(query.list('acme', 'other', { cursor }), hasCode('invalid_cursor'));
      await assert.rejects(query.list('beta', 'notes', { cursor }), hasCode('invalid_cursor'));
      await assert.rejects(query.list('acme', 'notes', { cursor, prefix: 'k1' }), hasCode('invalid_cursor'));
      await assert.rejects(query.list('acme', 'notes', { cursor: 'bm90IGEgY3Vyc29y' }), hasCode('invalid_cursor'));
      const historyCursor = (await query.history('acme', 'notes', 'k02', { limit: 1 })).cursor;
      assert.ok(historyCursor);
      await assert.rejects(query.list('acme', 'notes', { cursor: historyCursor }), hasCode('invalid_cursor'));
    });

    it('validates limit', async () => {
      for (const limit of [0, -1, 1001, 1.5, Number.NaN]) await assert.rejects(query.list('acme', 'notes', { limit }), hasCode('invalid_limit'), String(limit));
      await assert.rejects(query.list('acme', 'bad ns'), hasCode('invalid_namespace'));
    });
  });

  describe('history', () => {
    it('returns every event with its outcome, in log order, paged', async () => {
      await seed([write('h', 1, T0), write('h', 2, T0 + 1, { expectedVersion: 5 }), remove('h', T0 + 2), write('h', 3, T0 + 3)]);
      const entries: Array<{ eventType: string; outcome: EventOutcome; offset: number }> = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await query.history('acme', 'notes', 'h', { limit: 3, cursor });
        entries.push(...page.entries.map((e) => ({ eventType: e.event.type, outcome: e.outcome, offset: e.position.offset })));
        cursor = page.cursor;
        pages++;
      } while (cursor !== undefined && pages < 10);
      assert.equal(pages, 2);
      assert.deepEqual(entries.map((e) => e.eventType), ['MemoryWritten', 'MemoryWritten', 'MemoryDeleted', 'MemoryWritten']);
      assert.deepEqual(entries.map((e) => e.outcome.status), ['applied', 'rejected', 'applied', 'applied']);
      assert.equal((entries[1]!.outcome as { code: string }).code, 'version_conflict');
      const offsets = entries.map((e) => e.offset);
      assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b));
    });

    it('is found for a deleted memory, not found for one that never existed', async () => {
      await seed([write('d', 1), remove('d')]);
      assert.equal((await query.history('acme', 'notes', 'd')).entries.length, 2);
      await assert.rejects(query.history('acme', 'notes', 'never'), hasCode('memory_not_found'));
      await assert.rejects(query.history('beta', 'notes', 'd'), hasCode('memory_not_found'));
    });

    it('is empty (not an error) when only the state is left', async () => {
      await seed([write('s', 1)], { history: false });
      assert.deepEqual(await query.history('acme', 'notes', 's'), { entries: [] });
    });

    it("refuses another entity's cursor", async () => {
      await seed([write('a', 1), write('a', 2)]);
      await seed([write('ab', 1), write('ab', 2)]);
      const { cursor } = await query.history('acme', 'notes', 'a', { limit: 1 });
      assert.ok(cursor);
      await assert.rejects(query.history('acme', 'notes', 'ab', { cursor }), hasCode('invalid_cursor'));
      assert.equal((await query.history('acme', 'notes', 'a', { cursor })).entries.length, 1);
    });
  });

  describe('consistentWith, outcomes and states', () => {
    it('answers once the watermark covers the token, times out otherwise, and refuses a malformed token', async () => {
      await seed([write('c', 1)]);
      watermarks.advance(1, 7);
      assert.equal((await query.get('acme', 'notes', 'c', { consistentWith: encodeToken(new Map([[1, 7]])) })).value, 1);
      await assert.rejects(query.get('acme', 'notes', 'c', { consistentWith: encodeToken(new Map([[1, 8]])) }), hasCode('consistency_timeout'));
      await assert.rejects(query.get('acme', 'notes', 'c', { consistentWith: 'v1.!!' }), hasCode('invalid_token'));
      await assert.rejects(query.list('acme', 'notes', { consistentWith: encodeToken(new Map([[9, 0]])) }), hasCode('invalid_token'));
      const pending = query.get('acme', 'notes', 'c', { consistentWith: encodeToken(new Map([[2, 3]])) });
      watermarks.advance(2, 3);
      assert.equal((await pending).value, 1);
    });

    it('reads KV, not the cache, after a token whose watermark it found in KV', async () => {
      const first = await seed([write('t', 1)]);
      const id = encodeEntityId(first!);
      assert.equal((await query.get('acme', 'notes', 't')).value, 1, 'the cache now holds version 1');
      // Another process's projection stores version 2 with its watermark; the cache is not yet told.
      await seed([write('t', 1), write('t', 2)]);
      await kv.batch([{ type: 'put', key: watermarkKey(1), value: json({ enrichedOffset: 9, sourceOffset: 9 }) }]);
      const token = encodeToken(new Map([[1, 9]]));
      assert.equal((await query.get('acme', 'notes', 't', { consistentWith: token })).value, 2);
      assert.equal((await cache.get(id))?.version, 2, 'and the cache got what KV holds');

      // When the projection runs in this process the cache is written before the watermark moves: a hit serves.
      const announced = createAppliedWatermarks({ kv, partitions: 4, follow: 'announced' });
      announced.advance(1, 9);
      const local = createQueryService({ kv, cache, watermarks: announced, limits: DEFAULT_LIMITS, consistencyTimeoutMs: 150, telemetry: silentTelemetry() });
      await cache.set(id, { value: json({ ...first!, version: 3 }), version: 3 });
      assert.equal((await local.get('acme', 'notes', 't', { consistentWith: token })).value, 1, 'served from the cache');
      assert.equal((await query.get('acme', 'notes', 't', { consistentWith: token })).value, 2, 'served from KV');
    });

    it('reads outcomes from the history by entity and memory-events position, and states by entity id', async () => {
      const first = nextOffset;
      const events = [write('o', 1), write('o', 2, T0 + 1, { expectedVersion: 0 })];
      await seed(events);
      const id = encodeEntityId({ tenant: 'acme', namespace: 'notes', key: 'o' });
      const at = (offset: number, partition = 1) => ({ entityId: id, partition, offset });
      const [applied, rejected, missing, otherPartition] = await query.outcomes([at(first), at(first + 1), at(first + 2), at(first, 2)]);
      assert.deepEqual(applied, { status: 'applied', version: 1, entityId: id, position: { partition: 1, offset: first } });
      assert.equal(rejected?.status, 'rejected');
      assert.equal((rejected as { code?: string }).code, 'version_conflict');
      assert.equal(missing, undefined, 'not projected (yet)');
      assert.equal(otherPartition, undefined);
      const beta = encodeEntityId({ tenant: 'beta', namespace: 'notes', key: 'o' });
      assert.deepEqual(await query.outcomes([{ entityId: beta, partition: 1, offset: first }]), [undefined], "another tenant's entity has no such history");
      const states = await query.states([id, encodeEntityId({ tenant: 'acme', namespace: 'notes', key: 'absent' })]);
      assert.deepEqual([...states.keys()], [id]);
      assert.equal(states.get(id)!.version, 1);
    });

    it('finds outcomes deep in a long history, page by page from the newest', async () => {
      const first = nextOffset;
      await seed(Array.from({ length: 40 }, (_, i) => write('long', i, T0 + i)));
      const id = encodeEntityId({ tenant: 'acme', namespace: 'notes', key: 'long' });
      const found = await query.outcomes([first + 39, first, first + 17].map((offset) => ({ entityId: id, partition: 1, offset })));
      assert.deepEqual(
        found.map((o) => (o?.status === 'applied' ? o.version : o)),
        [40, 1, 18],
      );
    });
  });
});
