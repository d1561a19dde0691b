/**
 * The VectorIndex contract: the same assertions for every implementation (embedded HNSW, Milvus).
 * Each test gets its own fixture and its own collection name, so the suite also runs against a shared,
 * long-lived server. Vectors are tiny (8 dims) and hand-made so that the expected order is obvious.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { VectorFields, VectorFilter, VectorHit, VectorIndex, VectorItem } from '@engram/ports';
import { matchesFilter } from '@engram/ports';

export interface VectorIndexFixture {
  index: VectorIndex;
  /** Opens the same storage again once the suite closed the previous index; without it the persistence test is a no-op. */
  reopen?: () => Promise<VectorIndex>;
  /** Removes what the fixture created; called after the suite closed the index. */
  cleanup: () => Promise<void>;
}

export type VectorIndexFactory = () => Promise<VectorIndexFixture>;

const DIMS = 8;
const MODEL = 'contract-model-v1';
const TENANT = 'tenant-a';

/** Basis vector e_i, optionally blended with others: `vec([0, 1], [1, 0.2])` = e0 + 0.2·e1. */
function vec(...parts: Array<[number, number]>): Float32Array {
  const out = new Float32Array(DIMS);
  for (const [i, weight] of parts) out[i] = (out[i] as number) + weight;
  return out;
}

function item(id: string, vector: Float32Array, fields: Partial<VectorFields> = {}, version = 1): VectorItem {
  return { id, vector, version, fields: { tenant: TENANT, namespace: 'notes', kind: 'note', tags: [], updatedAt: 1000, ...fields } };
}

function ids(hits: VectorHit[]): string[] {
  return hits.map((h) => h.id);
}

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal((error as { code?: unknown }).code, code, `expected code ${code}, got ${String(error)}`);
    return true;
  });
}

interface Context {
  readonly index: VectorIndex;
  /** A fresh collection of DIMS dims and MODEL, created in the index. */
  collection: string;
  search(filter: Partial<VectorFilter>, vector?: Float32Array, k?: number): Promise<VectorHit[]>;
  /** Closes and reopens the index over the same storage; undefined when the fixture cannot. */
  reopen: (() => Promise<void>) | undefined;
}

export function vectorIndexContract(name: string, factory: VectorIndexFactory): void {
  const run = randomBytes(4).toString('hex');
  let counter = 0;

  async function withIndex(test: (ctx: Context) => Promise<void>): Promise<void> {
    const fixture = await factory();
    let current = fixture.index;
    const collection = `contract_${run}_${++counter}`;
    try {
      await current.ensureCollection({ name: collection, dims: DIMS, model: MODEL });
      const reopen = fixture.reopen;
      await test({
        get index() {
          return current;
        },
        collection,
        search: (filter, vector = vec([0, 1]), k = 50) => current.search(collection, { vector, k, model: MODEL, filter: { tenant: TENANT, ...filter } }),
        reopen:
          reopen === undefined
            ? undefined
            : async () => {
                await current.close();
                current = await reopen();
              },
      });
    } finally {
      await current.close();
      await fixture.cleanup();
    }
  }

  describe(`VectorIndex contract: ${name}`, () => {
    it('returns the nearest items first, with cosine scores and the stored fields', () =>
      withIndex(async ({ index, collection, search }) => {
        const near = item('near', vec([0, 0.9], [1, 0.1]), { agentId: 'agent-1', tags: ['a', 'b'] });
        await index.upsert(collection, [item('e0', vec([0, 1])), item('e1', vec([1, 1])), near, item('e2', vec([2, 1]))]);
        const hits = await search({}, vec([0, 1]), 2);
        assert.deepEqual(ids(hits), ['e0', 'near']);
        assert.ok(Math.abs((hits[0] as VectorHit).score - 1) < 1e-4);
        assert.ok(Math.abs((hits[1] as VectorHit).score - 0.9 / Math.sqrt(0.82)) < 1e-4);
        assert.deepEqual((hits[1] as VectorHit).fields, near.fields);
        const all = await search({}, vec([0, 1], [1, 0.5]));
        assert.equal(all.length, 4, 'k above the number of matches returns every match');
        for (let i = 1; i < all.length; i++) assert.ok((all[i - 1] as VectorHit).score >= (all[i] as VectorHit).score, 'scores descend');
      }));

    it('normalises vectors on the way in', () =>
      withIndex(async ({ index, collection, search }) => {
        await index.upsert(collection, [item('long', vec([3, 7]))]);
        const [hit] = await search({}, vec([3, 0.25]), 1);
        assert.equal(hit?.id, 'long');
        assert.ok(Math.abs((hit as VectorHit).score - 1) < 1e-4);
      }));

    it('never shows one tenant the vectors of another, even identical ones', () =>
      withIndex(async ({ index, collection, search }) => {
        await index.upsert(collection, [item('a-1', vec([0, 1])), item('b-1', vec([0, 1]), { tenant: 'tenant-b' }), item('b-2', vec([1, 1]), { tenant: 'tenant-b' })]);
        assert.deepEqual(ids(await search({ tenant: 'tenant-b' })), ['b-1', 'b-2']);
        assert.deepEqual(ids(await search({})), ['a-1']);
        assert.deepEqual(await search({ tenant: 'tenant-c' }), []);
      }));

    it('filters by namespace prefix segment-wise', () =>
      withIndex(async ({ index, collection, search }) => {
        const namespaces = ['a', 'a/b', 'a/b/c', 'ab', 'b'];
        await index.upsert(collection, namespaces.map((namespace, i) => item(`ns-${namespace}`, vec([i, 1]), { namespace })));
        const found = async (prefix: string): Promise<string[]> => ids(await search({ namespacePrefix: prefix })).sort();
        assert.deepEqual(await found('a'), ['ns-a', 'ns-a/b', 'ns-a/b/c']);
        assert.deepEqual(await found('a/b'), ['ns-a/b', 'ns-a/b/c']);
        assert.deepEqual(await found('ab'), ['ns-ab']);
        assert.deepEqual(await found(''), namespaces.map((n) => `ns-${n}`).sort());
      }));

    const filterCases: Array<[string, Partial<VectorFilter>, string[]]> = [
      ['agentId', { agentId: 'agent-1' }, ['i1']],
      ['sessionId', { sessionId: 'session-1' }, ['i1', 'i2']],
      ['kind', { kind: 'note' }, ['i1', 'i3']],
      ['one tag', { tags: ['x'] }, ['i1', 'i2']],
      ['every listed tag', { tags: ['x', 'y'] }, ['i1']],
      ['since (inclusive)', { since: 2000 }, ['i2', 'i3']],
      ['until (inclusive)', { until: 2000 }, ['i1', 'i2']],
      ['a time range', { since: 1500, until: 2500 }, ['i2']],
      ['several fields at once', { kind: 'note', tags: ['x'], namespacePrefix: 'n' }, ['i1']],
    ];
    for (const [label, filter, expected] of filterCases) {
      it(`filters by ${label}`, () =>
        withIndex(async ({ index, collection, search }) => {
          await index.upsert(collection, [
            item('i1', vec([0, 1]), { namespace: 'n/1', agentId: 'agent-1', sessionId: 'session-1', kind: 'note', tags: ['x', 'y'], updatedAt: 1000 }),
            item('i2', vec([1, 1]), { namespace: 'n/2', agentId: 'agent-2', sessionId: 'session-1', kind: 'fact', tags: ['x'], updatedAt: 2000 }),
            item('i3', vec([2, 1]), { namespace: 'm', kind: 'note', tags: [], updatedAt: 3000 }),
          ]);
          assert.deepEqual(ids(await search(filter)).sort(), expected);
        }));
    }

    it('ignores an upsert older than the stored version; an equal one overwrites', () =>
      withIndex(async ({ index, collection, search }) => {
        await index.upsert(collection, [item('x', vec([0, 1]), { tags: ['v2'] }, 2)]);
        await index.upsert(collection, [item('x', vec([1, 1]), { tags: ['v1'] }, 1)]);
        let [hit] = await search({}, vec([0, 1]), 1);
        assert.deepEqual([hit?.id, hit?.fields.tags], ['x', ['v2']]);
        assert.ok(Math.abs((hit as VectorHit).score - 1) < 1e-4, 'the vector is still the newer one');
        await index.upsert(collection, [item('x', vec([1, 1]), { tags: ['v2-again'] }, 2)]);
        [hit] = await search({}, vec([1, 1]), 1);
        assert.deepEqual([hit?.id, hit?.fields.tags], ['x', ['v2-again']]);
        assert.ok(Math.abs((hit as VectorHit).score - 1) < 1e-4);
      }));

    it('applies repeated ids within one batch in order, with the version rule', () =>
      withIndex(async ({ index, collection, search }) => {
        await index.upsert(collection, [
          item('same', vec([0, 1]), { tags: ['first'] }, 1),
          item('same', vec([1, 1]), { tags: ['second'] }, 1),
          item('newer-first', vec([2, 1]), { tags: ['v2'] }, 2),
          item('newer-first', vec([3, 1]), { tags: ['v1'] }, 1),
        ]);
        assert.equal(await index.count(collection), 2);
        const tags = Object.fromEntries((await search({})).map((h) => [h.id, h.fields.tags]));
        assert.deepEqual(tags, { same: ['second'], 'newer-first': ['v2'] });
      }));

    it('deletes by version: an older delete is ignored, a deleted item stays deleted for older upserts', () =>
      withIndex(async ({ index, collection, search }) => {
        await index.upsert(collection, [item('x', vec([0, 1]), {}, 3), item('y', vec([1, 1]), {}, 1)]);
        await index.delete(collection, [{ id: 'x', version: 2 }]);
        assert.deepEqual(ids(await search({})).sort(), ['x', 'y']);
        await index.delete(collection, [{ id: 'x', version: 4 }]);
        assert.deepEqual(ids(await search({})), ['y']);
        assert.equal(await index.count(collection), 1);
        await index.upsert(collection, [item('x', vec([0, 1]), {}, 3)]);
        assert.deepEqual(ids(await search({})), ['y'], 'an upsert older than the delete is ignored');
        await index.upsert(collection, [item('x', vec([0, 1]), {}, 5)]);
        assert.deepEqual(ids(await search({}, vec([0, 1]), 1)), ['x'], 'a newer upsert brings it back');
        await index.delete(collection, [{ id: 'never-seen', version: 7 }]);
        await index.upsert(collection, [item('never-seen', vec([0, 1]), {}, 6)]);
        assert.equal(await index.count(collection), 2, 'a delete that arrived first still wins over an older upsert');
      }));

    it('counts live items of every tenant', () =>
      withIndex(async ({ index, collection }) => {
        assert.equal(await index.count(collection), 0);
        await index.upsert(collection, [item('a', vec([0, 1])), item('b', vec([1, 1]), { tenant: 'tenant-b' }), item('c', vec([2, 1]))]);
        assert.equal(await index.count(collection), 3);
        await index.delete(collection, [{ id: 'c', version: 2 }]);
        assert.equal(await index.count(collection), 2);
      }));

    it('refuses a query from another model, wrong dims, unknown collections and a missing tenant', () =>
      withIndex(async ({ index, collection }) => {
        await index.upsert(collection, [item('a', vec([0, 1]))]);
        const query = { vector: vec([0, 1]), k: 1, model: MODEL, filter: { tenant: TENANT } };
        await rejectsWithCode(index.search(collection, { ...query, model: 'other-model' }), 'embedding_model_mismatch');
        await rejectsWithCode(index.search(collection, { ...query, vector: new Float32Array(DIMS + 1).fill(1) }), 'vector_dims_mismatch');
        await rejectsWithCode(index.upsert(collection, [item('b', new Float32Array(DIMS - 1).fill(1))]), 'vector_dims_mismatch');
        await rejectsWithCode(index.search(`${collection}_missing`, query), 'collection_not_found');
        await rejectsWithCode(index.upsert(`${collection}_missing`, [item('a', vec([0, 1]))]), 'collection_not_found');
        await rejectsWithCode(index.search(collection, { ...query, filter: { tenant: '' } }), 'tenant_required');
        await rejectsWithCode(index.ensureCollection({ name: collection, dims: DIMS + 1, model: MODEL }), 'collection_spec_mismatch');
        await rejectsWithCode(index.ensureCollection({ name: collection, dims: DIMS, model: 'other-model' }), 'collection_spec_mismatch');
        // The existing spec travels with the refusal: start-up names the model that built the index.
        const refusal = await index.ensureCollection({ name: collection, dims: DIMS, model: 'other-model' }).then(
          () => undefined,
          (error: unknown) => error as { details?: { existing?: { model?: string } } },
        );
        assert.equal(refusal?.details?.existing?.model, MODEL);
        await index.ensureCollection({ name: collection, dims: DIMS, model: MODEL });
        assert.equal(await index.count(collection), 1, 'ensureCollection with the same spec keeps the data');
      }));

    it('agrees with exact search under random filters', () =>
      withIndex(async ({ index, collection, search }) => {
        let seed = 42;
        const random = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
        const pick = <T>(values: T[]): T => values[Math.floor(random() * values.length)] as T;
        const items = Array.from({ length: 240 }, (_, i) => {
          const fields: Partial<VectorFields> = {
            tenant: pick([TENANT, TENANT, 'tenant-b']),
            namespace: pick(['p', 'p/q', 'p/q/r', 'pq']),
            kind: pick(['note', 'fact']),
            tags: ['t1', 't2', 't3'].filter(() => random() < 0.5),
            updatedAt: Math.floor(random() * 100),
          };
          const session = pick(['s1', 's2', undefined]);
          if (session !== undefined) fields.sessionId = session;
          return item(`r${i}`, Float32Array.from({ length: DIMS }, () => random() * 2 - 1), fields);
        });
        await index.upsert(collection, items);
        const unit = (v: Float32Array): number[] => {
          const n = Math.hypot(...v);
          return Array.from(v, (x) => x / n);
        };
        let found = 0;
        let expectedTotal = 0;
        for (let q = 0; q < 12; q++) {
          const filter: VectorFilter = { tenant: TENANT, namespacePrefix: pick([undefined, 'p', 'p/q']), kind: pick([undefined, 'note']), tags: pick([undefined, ['t1']]), sessionId: pick([undefined, 's1']), since: pick([undefined, 30]) };
          const query = Float32Array.from({ length: DIMS }, () => random() * 2 - 1);
          const qn = unit(query);
          const scoreOf = (v: Float32Array): number => unit(v).reduce((sum, x, i) => sum + x * (qn[i] as number), 0);
          const expected = items.filter((it) => matchesFilter(it.fields, filter)).map((it) => ({ id: it.id, score: scoreOf(it.vector) }));
          expected.sort((a, b) => b.score - a.score);
          const top = expected.slice(0, 5);
          const hits = await search(filter, query, 5);
          assert.equal(hits.length, top.length);
          const byId = new Map(items.map((it) => [it.id, it]));
          for (const hit of hits) {
            const stored = byId.get(hit.id) as VectorItem;
            assert.ok(matchesFilter(hit.fields, filter), `hit ${hit.id} matches the filter`);
            assert.ok(Math.abs(hit.score - scoreOf(stored.vector)) < 1e-4, `hit ${hit.id} has its cosine score`);
          }
          found += hits.filter((h) => top.some((t) => t.id === h.id)).length;
          expectedTotal += top.length;
        }
        assert.ok(found >= expectedTotal * 0.9, `recall ${found}/${expectedTotal}`);
      }));

    it('keeps items, deletes and versions across close and reopen', () =>
      withIndex(async (ctx) => {
        const { collection } = ctx;
        await ctx.index.upsert(collection, [item('keep', vec([0, 1]), { tags: ['k'] }, 2), item('gone', vec([1, 1]), {}, 1)]);
        await ctx.index.delete(collection, [{ id: 'gone', version: 2 }]);
        assert.equal(await ctx.index.count(collection), 1);
        // Implementations whose state lives in a server (nothing local to reopen) stop here.
        if (ctx.reopen === undefined) return;
        await ctx.reopen();
        assert.equal(await ctx.index.count(collection), 1);
        const [hit] = await ctx.search({}, vec([0, 1]), 5);
        assert.deepEqual([hit?.id, hit?.fields.tags], ['keep', ['k']]);
        await ctx.index.upsert(collection, [item('gone', vec([1, 1]), {}, 1), item('keep', vec([2, 1]), {}, 1)]);
        assert.deepEqual(ids(await ctx.search({})), ['keep'], 'versions and tombstones survived the restart');
        await ctx.index.upsert(collection, [item('after', vec([3, 1]))]);
        assert.deepEqual(ids(await ctx.search({}, vec([3, 1]), 1)), ['after'], 'writes work after reopening');
      }));
  });
}
