import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { searchKeyword, type KeywordQuery } from './keyword-search.js';
import { KEYWORD_BACKENDS, type KeywordBackend } from './keyword-backends.spec-helper.js';

const T = 'scale';
const DOCS = 5000;
const PARTITIONS = 4;
const id = (i: number): string => `${T}|docs/${i % 10}|doc-${String(i).padStart(5, '0')}`;

for (const [name, open] of KEYWORD_BACKENDS) describe(`keyword index with a term in 5,000 documents, ${name}`, () => {
  let b: KeywordBackend;
  const search = (q: KeywordQuery) => searchKeyword(b.postings, q);
  before(async () => {
    b = open();
    // Every document holds "shared"; one in 500 also holds "needle"; lengths vary with i.
    for (let start = 0; start < DOCS; start += 1000) {
      const changes = Array.from({ length: 1000 }, (_, j) => {
        const i = start + j;
        const extra = i % 500 === 0 ? ' needle' : '';
        return { entityId: id(i), tenant: T, partition: i % PARTITIONS, after: `shared ${'word '.repeat(i % 7)}item${i}${extra}` };
      });
      await b.apply(changes);
    }
  });
  after(() => b.close());

  // Speed is measured in bench/, not asserted here (a shared 2-core machine makes timed tests flaky).
  it('scores every posting of the common term', async () => {
    const hits = await search({ tenant: T, text: 'shared', k: 10 });
    assert.equal(hits.length, 10);
    // Shortest documents ("shared itemN", length 2: i % 7 = 0 without a needle, so not i = 0) score
    // highest; ties go by entity id, whose namespace (docs/<i % 10>) comes first: i % 70 = 0.
    assert.deepEqual(hits.map((h) => h.entityId), [70, 140, 210, 280, 350, 420, 490, 560, 630, 700].map(id));
  });

  it('scores a term above maxPostingsPerTerm only against the rarer terms\' candidates', async () => {
    const needles = [0, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500].map(id);
    const full = await search({ tenant: T, text: 'needle shared', k: 20 });
    assert.equal(full.length, 20);
    assert.deepEqual(full.slice(0, 10).map((h) => h.entityId).sort(), needles);
    // "shared" (df 5,000) is looked up for needle's 10 candidates instead of scanned: same scores.
    const capped = await search({ tenant: T, text: 'needle shared', k: 20, maxPostingsPerTerm: 100 });
    assert.deepEqual(capped, full.slice(0, 10));
    // With no rarer term, the common term is read up to the cap, in key order: i = 0, 10, 20, 30, 40
    // with lengths 3, 5, 8, 4, 7.
    const seeded = await search({ tenant: T, text: 'shared', k: 10, maxPostingsPerTerm: 5 });
    assert.deepEqual(seeded.map((h) => h.entityId), [0, 30, 10, 40, 20].map(id));
  });
});
