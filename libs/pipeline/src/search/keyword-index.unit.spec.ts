import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EngramError } from '@engram/core';
import { createLmdbKvStore } from '@engram/ports';
import type { KvStore } from '@engram/ports';
import { planKeywordUpdate, searchKeyword } from './keyword-index.js';
import type { KeywordChange } from './keyword-index.js';

const T = 'acme';
const id = (key: string, tenant = T, namespace = 'notes'): string => `${tenant}|${namespace}|${key}`;

async function apply(kv: KvStore, changes: KeywordChange[]): Promise<void> {
  await kv.batch(await planKeywordUpdate(kv, changes));
}

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

describe('keyword index (BM25 over KvStore)', () => {
  let dir: string;
  let kv: KvStore;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-'));
    kv = createLmdbKvStore({ path: dir });
  });
  afterEach(async () => {
    await kv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('scores a hand-computed three-document example exactly', async () => {
    await apply(kv, DOCS.map(([key, text]) => ({ entityId: id(key), tenant: T, partition: 0, after: text })));
    assertHits(await searchKeyword(kv, { tenant: T, text: 'Bird CAT', k: 10 }), EXPECTED_CAT_BIRD);
    assertHits(await searchKeyword(kv, { tenant: T, text: 'cat cat', k: 1 }), [EXPECTED_CAT_BIRD[1]!]);
    assert.deepEqual(await searchKeyword(kv, { tenant: T, text: 'zebra the', k: 10 }), []);
    assert.deepEqual(await searchKeyword(kv, { tenant: T, text: 'cat', k: 0 }), []);
  });

  it('sums N, df and lengths across partitions', async () => {
    await apply(kv, DOCS.map(([key, text], p) => ({ entityId: id(key), tenant: T, partition: p, after: text })));
    assert.equal((await keysUnder(kv, `kw|d|${T}|cat|`)).length, 2);
    assert.equal((await keysUnder(kv, `kw|s|${T}|`)).length, 3);
    assertHits(await searchKeyword(kv, { tenant: T, text: 'cat bird', k: 10 }), EXPECTED_CAT_BIRD);
  });

  it('aggregates several changes to the same term and partition in one batch', async () => {
    const ops = await planKeywordUpdate(kv, DOCS.map(([key, text]) => ({ entityId: id(key), tenant: T, partition: 7, after: text })));
    const dfPuts = ops.filter((op) => op.key === `kw|d|${T}|cat|7`);
    assert.equal(dfPuts.length, 1);
    assert.equal(ops.filter((op) => op.key === `kw|s|${T}|7`).length, 1);
    await kv.batch(ops);
    assertHits(await searchKeyword(kv, { tenant: T, text: 'cat bird', k: 10 }), EXPECTED_CAT_BIRD);
  });

  it('follows updates and deletes, and leaves no key behind once everything is removed', async () => {
    await apply(kv, DOCS.map(([key, text], i) => ({ entityId: id(key), tenant: T, partition: i % 2, after: text })));
    // d1 loses "cat", gains "bird"; d3 is deleted; an unchanged text plans no op at all.
    await apply(kv, [
      { entityId: id('d1'), tenant: T, partition: 0, before: 'cat dog cat', after: 'bird bird dog' },
      { entityId: id('d3'), tenant: T, partition: 0, before: 'cats, fish fish fish' },
    ]);
    assert.deepEqual(await planKeywordUpdate(kv, [{ entityId: id('d2'), tenant: T, partition: 1, before: 'dog bird', after: 'bird, dog!' }]), []);
    assert.deepEqual(await searchKeyword(kv, { tenant: T, text: 'cat fish', k: 10 }), []);
    // Now N = 2, avgdl = 2.5, df(bird) = 2 → idf = ln(1 + 0.5 / 2.5) = ln 1.2.
    const idf = Math.log(1.2);
    assertHits(await searchKeyword(kv, { tenant: T, text: 'bird', k: 10 }), [
      { entityId: id('d1'), score: idf * (2 * 2.2) / (2 + 1.2 * (0.25 + (0.75 * 3) / 2.5)) },
      { entityId: id('d2'), score: idf * 2.2 / (1 + 1.2 * (0.25 + (0.75 * 2) / 2.5)) },
    ]);

    await apply(kv, [
      { entityId: id('d1'), tenant: T, partition: 0, before: 'bird bird dog' },
      { entityId: id('d2'), tenant: T, partition: 1, before: 'the dog and a bird', after: 'the and a' },
    ]);
    assert.deepEqual(await keysUnder(kv, 'kw|'), []);
    assert.deepEqual(await searchKeyword(kv, { tenant: T, text: 'bird dog', k: 10 }), []);
  });

  it('keeps tenants apart and never reads another tenant\'s keys', async () => {
    // "acme" is a prefix of "acme2": the separator after the tenant must keep their ranges apart.
    await apply(kv, DOCS.map(([key, text]) => ({ entityId: id(key), tenant: T, partition: 0, after: text })));
    await apply(kv, [
      { entityId: id('x1', 'acme2'), tenant: 'acme2', partition: 0, after: 'cat bird bird' },
      { entityId: id('x2', 'acme2'), tenant: 'acme2', partition: 3, after: 'cat' },
    ]);
    const touched: string[] = [];
    const spy: KvStore = {
      get: (key) => (touched.push(key), kv.get(key)),
      getMany: (keys) => (touched.push(...keys), kv.getMany(keys)),
      scan: (options) => (touched.push(options.prefix), kv.scan(options)),
      batch: (ops) => kv.batch(ops),
      close: () => kv.close(),
    };
    assertHits(await searchKeyword(spy, { tenant: T, text: 'cat bird', k: 10 }), EXPECTED_CAT_BIRD);
    assert.ok(touched.length > 0);
    for (const key of touched) assert.match(key, /^kw\|[pds]\|acme\|/);
    const other = await searchKeyword(kv, { tenant: 'acme2', text: 'cat bird', k: 10 });
    assert.deepEqual(other.map((h) => h.entityId), [id('x1', 'acme2'), id('x2', 'acme2')]);
  });

  it('walks candidates best-first through accept until k are accepted', async () => {
    const changes = Array.from({ length: 40 }, (_, i) => ({
      entityId: id(`n${String(i).padStart(2, '0')}`, T, i % 2 === 0 ? 'keep' : 'drop'),
      tenant: T,
      partition: i % 3,
      after: `${'memory '.repeat(1 + (i % 5))} filler words number ${i}`,
    }));
    await apply(kv, changes);
    const all = await searchKeyword(kv, { tenant: T, text: 'memories', k: 100 });
    assert.equal(all.length, 40);
    const asked: string[] = [];
    const accept = async (entityId: string): Promise<boolean> => {
      asked.push(entityId);
      return entityId.startsWith(`${T}|keep|`);
    };
    const hits = await searchKeyword(kv, { tenant: T, text: 'memories', k: 7, accept });
    assert.deepEqual(hits, all.filter((h) => h.entityId.startsWith(`${T}|keep|`)).slice(0, 7));
    assert.ok(asked.length < 40, `asked ${asked.length}`);
    const few = await searchKeyword(kv, { tenant: T, text: 'memories', k: 30, accept: (e) => e.endsWith('n04') });
    assert.deepEqual(few.map((h) => h.entityId), [id('n04', T, 'keep')]);
  });

  it('rejects inputs that would corrupt the index or cross tenants', async () => {
    const code = (c: string) => (error: unknown) => error instanceof EngramError && error.code === c;
    await assert.rejects(planKeywordUpdate(kv, [{ entityId: id('a'), tenant: 'other', partition: 0, after: 'x' }]), code('keyword_tenant_mismatch'));
    await assert.rejects(planKeywordUpdate(kv, [{ entityId: 'a|b|n|k', tenant: 'a|b', partition: 0, after: 'x' }]), code('invalid_tenant'));
    await assert.rejects(searchKeyword(kv, { tenant: 'a|b', text: 'x', k: 1 }), code('invalid_tenant'));
    await assert.rejects(searchKeyword(kv, { tenant: T, text: 'x', k: -1 }), code('invalid_k'));
    const twice = { entityId: id('a'), tenant: T, partition: 0, after: 'x' };
    await assert.rejects(planKeywordUpdate(kv, [twice, twice]), code('duplicate_keyword_change'));
    // A `before` that was never indexed would drive the counters negative: reported, not clamped.
    await assert.rejects(planKeywordUpdate(kv, [{ entityId: id('a'), tenant: T, partition: 0, before: 'ghost' }]), code('keyword_index_inconsistent'));
  });
});
