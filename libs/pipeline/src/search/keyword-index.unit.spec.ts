import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { EngramError } from '@engram/core';
import type { KvStore } from '@engram/ports';
import { kvKeywordPostings, planKeywordUpdate } from './keyword-index.js';
import { searchKeyword, type KeywordQuery } from './keyword-search.js';
import { KEYWORD_BACKENDS, openKvBackend, openMemoryBackend, type KeywordBackend, type KvKeywordBackend } from './keyword-backends.spec-helper.js';

const T = 'acme';
const id = (key: string, tenant = T, namespace = 'notes'): string => `${tenant}|${namespace}|${key}`;

async function keysUnder(kv: KvStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await kv.scan({ prefix, after, limit: 500 });
    keys.push(...page.entries.map((e) => e.key));
    if (page.cursor === undefined) return keys;
    after = page.cursor;
  }
}

// Three documents, hand-computed (tokens after stop words and stemming):
//   d1 "cat dog cat" → len 3, d2 "the dog and a bird" → dog bird, len 2, d3 "cats, fish fish fish" → len 4
//   N = 3, avgdl = 9 / 3 = 3, df(cat) = 2, df(bird) = 1
//   idf(cat)  = ln(1 + 1.5 / 2.5) = ln 1.6;  idf(bird) = ln(1 + 2.5 / 1.5) = ln(8/3)
//   d1·cat : tf 2, norm = 2 + 1.2·(0.25 + 0.75·3/3) = 3.2 → 2·2.2 / 3.2 = 1.375
//   d3·cat : tf 1, norm = 1 + 1.2·(0.25 + 0.75·4/3) = 2.5 → 2.2 / 2.5  = 0.88
//   d2·bird: tf 1, norm = 1 + 1.2·(0.25 + 0.75·2/3) = 1.9 → 2.2 / 1.9
const DOCS: Array<[string, string]> = [['d1', 'cat dog cat'], ['d2', 'the dog and a bird'], ['d3', 'cats, fish fish fish']];
const CAT = Math.log(1.6);
const BIRD = Math.log(8 / 3);
const EXPECTED_CAT_BIRD = [
  { entityId: id('d2'), score: (2.2 / 1.9) * BIRD },
  { entityId: id('d1'), score: 1.375 * CAT },
  { entityId: id('d3'), score: 0.88 * CAT },
];

function assertHits(actual: Array<{ entityId: string; score: number }>, expected: Array<{ entityId: string; score: number }>): void {
  assert.deepEqual(actual.map((h) => h.entityId), expected.map((h) => h.entityId));
  actual.forEach((hit, i) => assert.ok(Math.abs(hit.score - (expected[i]?.score ?? NaN)) < 1e-12, `${hit.entityId}: ${hit.score}`));
}

for (const [name, open] of KEYWORD_BACKENDS) {
  describe(`keyword search (BM25), ${name}`, () => {
    let b: KeywordBackend;
    const search = (q: KeywordQuery) => searchKeyword(b.postings, q);
    beforeEach(() => {
      b = open();
    });
    afterEach(() => b.close());

    it('scores a hand-computed three-document example exactly', async () => {
      await b.apply(DOCS.map(([key, text]) => ({ entityId: id(key), tenant: T, partition: 0, after: text })));
      assertHits(await search({ tenant: T, text: 'Bird CAT', k: 10 }), EXPECTED_CAT_BIRD);
      assertHits(await search({ tenant: T, text: 'cat cat', k: 1 }), [EXPECTED_CAT_BIRD[1]!]);
      assert.deepEqual(await search({ tenant: T, text: 'zebra the', k: 10 }), []);
      assert.deepEqual(await search({ tenant: T, text: 'cat', k: 0 }), []);
    });

    it('sums N, df and lengths across partitions', async () => {
      await b.apply(DOCS.map(([key, text], p) => ({ entityId: id(key), tenant: T, partition: p, after: text })));
      assertHits(await search({ tenant: T, text: 'cat bird', k: 10 }), EXPECTED_CAT_BIRD);
    });

    it('follows updates and deletes', async () => {
      await b.apply(DOCS.map(([key, text], i) => ({ entityId: id(key), tenant: T, partition: i % 2, after: text })));
      // d1 loses "cat", gains "bird"; d3 is deleted.
      await b.apply([
        { entityId: id('d1'), tenant: T, partition: 0, before: 'cat dog cat', after: 'bird bird dog' },
        { entityId: id('d3'), tenant: T, partition: 0, before: 'cats, fish fish fish' },
      ]);
      assert.deepEqual(await search({ tenant: T, text: 'cat fish', k: 10 }), []);
      // Now N = 2, avgdl = 2.5, df(bird) = 2 → idf = ln(1 + 0.5 / 2.5) = ln 1.2.
      const idf = Math.log(1.2);
      assertHits(await search({ tenant: T, text: 'bird', k: 10 }), [
        { entityId: id('d1'), score: idf * (2 * 2.2) / (2 + 1.2 * (0.25 + (0.75 * 3) / 2.5)) },
        { entityId: id('d2'), score: idf * 2.2 / (1 + 1.2 * (0.25 + (0.75 * 2) / 2.5)) },
      ]);
      await b.apply([
        { entityId: id('d1'), tenant: T, partition: 0, before: 'bird bird dog' },
        { entityId: id('d2'), tenant: T, partition: 1, before: 'the dog and a bird', after: 'the and a' },
      ]);
      assert.deepEqual(await search({ tenant: T, text: 'bird dog', k: 10 }), []);
    });

    it('keeps tenants apart', async () => {
      // "acme" is a prefix of "acme2": the separator after the tenant must keep them apart.
      await b.apply(DOCS.map(([key, text]) => ({ entityId: id(key), tenant: T, partition: 0, after: text })));
      await b.apply([
        { entityId: id('x1', 'acme2'), tenant: 'acme2', partition: 0, after: 'cat bird bird' },
        { entityId: id('x2', 'acme2'), tenant: 'acme2', partition: 3, after: 'cat' },
      ]);
      assertHits(await search({ tenant: T, text: 'cat bird', k: 10 }), EXPECTED_CAT_BIRD);
      const other = await search({ tenant: 'acme2', text: 'cat bird', k: 10 });
      assert.deepEqual(other.map((h) => h.entityId), [id('x1', 'acme2'), id('x2', 'acme2')]);
      assert.deepEqual(await search({ tenant: 'acme3', text: 'cat bird', k: 10 }), []);
    });

    it('walks candidates best-first through accept until k are accepted', async () => {
      const changes = Array.from({ length: 40 }, (_, i) => ({
        entityId: id(`n${String(i).padStart(2, '0')}`, T, i % 2 === 0 ? 'keep' : 'drop'),
        tenant: T,
        partition: i % 3,
        after: `${'memory '.repeat(1 + (i % 5))} filler words number ${i}`,
      }));
      await b.apply(changes);
      const all = await search({ tenant: T, text: 'memories', k: 100 });
      assert.equal(all.length, 40);
      const asked: string[] = [];
      const accept = async (entityId: string): Promise<boolean> => {
        asked.push(entityId);
        return entityId.startsWith(`${T}|keep|`);
      };
      const hits = await search({ tenant: T, text: 'memories', k: 7, accept });
      assert.deepEqual(hits, all.filter((h) => h.entityId.startsWith(`${T}|keep|`)).slice(0, 7));
      assert.ok(asked.length < 40, `asked ${asked.length}`);
      const few = await search({ tenant: T, text: 'memories', k: 30, accept: (e) => e.endsWith('n04') });
      assert.deepEqual(few.map((h) => h.entityId), [id('n04', T, 'keep')]);
    });

    it('ranks by score, then entity id, however many candidates it scores', async () => {
      // 300 documents over a 6-word vocabulary: many candidates, many equal scores.
      const words = ['amber', 'basil', 'cedar', 'delta', 'ember', 'flint'];
      let seed = 42;
      const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      await b.apply(Array.from({ length: 300 }, (_, i) => ({
        entityId: id(`r${i}`),
        tenant: T,
        partition: i % 4,
        after: Array.from({ length: 1 + Math.floor(next() * 6) }, () => words[Math.floor(next() * words.length)]).join(' '),
      })));
      const all = await search({ tenant: T, text: 'amber basil', k: 300 });
      assert.ok(all.length > 100, `${all.length} candidates`);
      for (let i = 1; i < all.length; i++) {
        const [a, c] = [all[i - 1]!, all[i]!];
        assert.ok(a.score > c.score || (a.score === c.score && a.entityId < c.entityId), `rank ${i}: ${JSON.stringify([a, c])}`);
      }
      assert.deepEqual(await search({ tenant: T, text: 'amber basil', k: 25 }), all.slice(0, 25));
    });

    it('rejects invalid queries', async () => {
      const code = (c: string) => (error: unknown) => error instanceof EngramError && error.code === c;
      await assert.rejects(search({ tenant: 'a|b', text: 'x', k: 1 }), code('invalid_tenant'));
      await assert.rejects(search({ tenant: T, text: 'x', k: -1 }), code('invalid_k'));
      await assert.rejects(search({ tenant: T, text: 'x', k: 1, maxPostingsPerTerm: 0 }), code('invalid_max_postings'));
    });
  });
}

describe('keyword index in KV: keys and counters', () => {
  let b: KvKeywordBackend;
  let kv: KvStore;
  const search = (q: KeywordQuery) => searchKeyword(b.postings, q);
  beforeEach(() => {
    b = openKvBackend();
    kv = b.kv;
  });
  afterEach(() => b.close());

  it('keeps one df counter and one stats key per partition', async () => {
    await b.apply(DOCS.map(([key, text], p) => ({ entityId: id(key), tenant: T, partition: p, after: text })));
    assert.equal((await keysUnder(kv, `kw|d|${T}|cat|`)).length, 2);
    assert.equal((await keysUnder(kv, `kw|s|${T}|`)).length, 3);
  });

  it('aggregates several changes to the same term and partition in one batch', async () => {
    const ops = await planKeywordUpdate(kv, DOCS.map(([key, text]) => ({ entityId: id(key), tenant: T, partition: 7, after: text })));
    const dfPuts = ops.filter((op) => op.key === `kw|d|${T}|cat|7`);
    assert.equal(dfPuts.length, 1);
    assert.equal(ops.filter((op) => op.key === `kw|s|${T}|7`).length, 1);
    await kv.batch(ops);
    assertHits(await search({ tenant: T, text: 'cat bird', k: 10 }), EXPECTED_CAT_BIRD);
  });

  it('plans nothing for an unchanged text, and leaves no key behind once everything is removed', async () => {
    await b.apply(DOCS.map(([key, text], i) => ({ entityId: id(key), tenant: T, partition: i % 2, after: text })));
    assert.deepEqual(await planKeywordUpdate(kv, [{ entityId: id('d2'), tenant: T, partition: 1, before: 'the dog and a bird', after: 'bird, dog!' }]), []);
    await b.apply(DOCS.map(([key, text], i) => ({ entityId: id(key), tenant: T, partition: i % 2, before: text })));
    assert.deepEqual(await keysUnder(kv, 'kw|'), []);
  });

  it('never reads another tenant\'s keys', async () => {
    await b.apply(DOCS.map(([key, text]) => ({ entityId: id(key), tenant: T, partition: 0, after: text })));
    await b.apply([{ entityId: id('x1', 'acme2'), tenant: 'acme2', partition: 0, after: 'cat bird bird' }]);
    const touched: string[] = [];
    const spy: KvStore = {
      get: (key) => (touched.push(key), kv.get(key)),
      getMany: (keys) => (touched.push(...keys), kv.getMany(keys)),
      scan: (options) => (touched.push(options.prefix), kv.scan(options)),
      batch: (ops) => kv.batch(ops),
      close: () => kv.close(),
    };
    assertHits(await searchKeyword(kvKeywordPostings(spy), { tenant: T, text: 'cat bird', k: 10 }), EXPECTED_CAT_BIRD);
    assert.ok(touched.length > 0);
    for (const key of touched) assert.match(key, /^kw\|[pds]\|acme\|/);
  });

  it('rejects changes that would corrupt the index or cross tenants', async () => {
    const code = (c: string) => (error: unknown) => error instanceof EngramError && error.code === c;
    await assert.rejects(planKeywordUpdate(kv, [{ entityId: id('a'), tenant: 'other', partition: 0, after: 'x' }]), code('keyword_tenant_mismatch'));
    await assert.rejects(planKeywordUpdate(kv, [{ entityId: 'a|b|n|k', tenant: 'a|b', partition: 0, after: 'x' }]), code('invalid_tenant'));
    const twice = { entityId: id('a'), tenant: T, partition: 0, after: 'x' };
    await assert.rejects(planKeywordUpdate(kv, [twice, twice]), code('duplicate_keyword_change'));
    // A `before` that was never indexed would drive the counters negative: reported, not clamped.
    await assert.rejects(planKeywordUpdate(kv, [{ entityId: id('a'), tenant: T, partition: 0, before: 'ghost' }]), code('keyword_index_inconsistent'));
  });
});

describe('keyword index in memory against the KV index', () => {
  it('answers exactly as the KV index does after random writes, rewrites and deletes', async () => {
    const kvb = openKvBackend();
    const mem = openMemoryBackend();
    const eager = openMemoryBackend({ minDeadToCompact: 1 });
    try {
      const words = ['amber', 'basil', 'cedar', 'delta', 'ember', 'flint', 'grove', 'heron', 'iris', 'juniper', 'kelp', 'lotus'];
      let seed = 7;
      const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const pick = <T>(list: T[]): T => list[Math.floor(next() * list.length)]!;
      const current = new Map<string, string>();
      for (let round = 0; round < 30; round++) {
        // A batch touches each entity at most once: writes, rewrites (often to fewer terms) and deletes.
        const batch = new Map<string, string | undefined>();
        for (let j = 0; j < 10; j++) {
          const key = `e${Math.floor(next() * 60)}`;
          batch.set(key, next() < 0.2 ? undefined : Array.from({ length: 1 + Math.floor(next() * 8) }, () => pick(words)).join(' '));
        }
        const changes = [...batch].map(([key, after]) => ({ entityId: id(key), tenant: T, partition: 0, before: current.get(key), after }));
        await kvb.apply(changes);
        await mem.apply(changes);
        await eager.apply(changes);
        for (const [key, after] of batch) {
          if (after === undefined) current.delete(key);
          else current.set(key, after);
        }
        for (let q = 0; q < 5; q++) {
          const query = { tenant: T, text: `${pick(words)} ${pick(words)}`, k: 100 };
          const expected = await searchKeyword(kvb.postings, query);
          assertHits(await searchKeyword(mem.postings, query), expected);
          assertHits(await searchKeyword(eager.postings, query), expected);
        }
      }
      assert.equal(mem.index.size().docs, current.size);
      const { dead, ...live } = eager.index.size();
      const { dead: _lazyDead, ...lazyLive } = mem.index.size();
      assert.deepEqual(live, lazyLive);
      // Compacting at every dead entry, no term keeps more dead entries than live ones.
      assert.ok(dead <= live.postings, `${dead} dead entries for ${live.postings} live postings`);
    } finally {
      await kvb.close();
    }
  });
});

describe('keyword index in memory: what it holds', () => {
  it('replaces a document\'s postings and forgets a tenant whose documents are all gone', async () => {
    const { index, apply, postings } = openMemoryBackend();
    await apply(DOCS.map(([key, text]) => ({ entityId: id(key), tenant: T, partition: 0, after: text })));
    // cat, dog, bird, fish: d1 2 terms, d2 2, d3 2.
    assert.deepEqual(index.size(), { tenants: 1, docs: 3, terms: 4, postings: 6, dead: 0 });
    index.set(id('d1'), 'zebra');
    // d1's old postings (of cat and dog) stay, as dead entries, until their lists are compacted.
    assert.deepEqual(index.size(), { tenants: 1, docs: 3, terms: 5, postings: 5, dead: 2 });
    assert.equal(await postings.df(T, 'cat'), 1);
    assert.deepEqual(await postings.corpus(T), { docs: 3, totalLen: 1 + 2 + 4 });
    for (const [key] of DOCS) index.set(id(key), undefined);
    index.set(id('never-indexed'), undefined);
    index.set(id('only-stop-words'), 'the and a');
    assert.deepEqual(index.size(), { tenants: 0, docs: 0, terms: 0, postings: 0, dead: 0 });
    assert.deepEqual(await postings.corpus(T), { docs: 0, totalLen: 0 });
  });

  it('drops a term\'s dead entries once they outnumber its live ones, and renumbers once dead documents do', async () => {
    const { index, postings } = openMemoryBackend({ minDeadToCompact: 1 });
    for (let i = 0; i < 50; i++) index.set(id(`other${i}`), `word${i}`);
    index.set(id('b'), 'cat');
    // Rewriting `a` leaves a dead entry in cat's list each time; fewer dead documents than live ones.
    for (let i = 0; i < 10; i++) index.set(id('a'), 'cat');
    assert.ok(index.size().dead <= 2, `cat keeps ${index.size().dead} dead entries for 2 live ones`);
    assert.equal(await postings.df(T, 'cat'), 2);
    // Now most documents die: numbers are reassigned, and what is left still answers.
    for (let i = 0; i < 50; i++) index.set(id(`other${i}`), undefined);
    assert.deepEqual(index.size(), { tenants: 1, docs: 2, terms: 1, postings: 2, dead: 0 });
    const hits = await searchKeyword(postings, { tenant: T, text: 'cat', k: 10 });
    assert.deepEqual(hits.map((h) => h.entityId).sort(), [id('a'), id('b')]);
  });

  it('refuses an id without a valid tenant', () => {
    const { index } = openMemoryBackend();
    assert.throws(() => index.set('no-separator', 'cat'), (e: unknown) => e instanceof EngramError && e.code === 'invalid_entity_id');
    assert.throws(() => index.set('|notes|k', 'cat'), (e: unknown) => e instanceof EngramError && e.code === 'invalid_entity_id');
  });
});
