import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHnswVectorIndex } from '@engram/ports';
import type { HnswVectorIndexOptions, VectorIndex, VectorItem } from '@engram/ports';
import { vectorIndexContract } from '../contracts/vector-index.contract.js';
import { tempDir } from '../temp-dirs.js';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

function fixture(options: Partial<HnswVectorIndexOptions> = {}) {
  return async () => {
    const dir = tempDir();
    const open = (): Promise<VectorIndex> => createHnswVectorIndex({ path: dir, ...options });
    return { index: await open(), reopen: open, cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }) };
  };
}

vectorIndexContract('embedded HNSW', fixture());
// Every tenant above the threshold: the same contract through filtered graph search.
vectorIndexContract('embedded HNSW, graph search only', fixture({ exactSearchBelow: 0 }));

/** Same as in hnsw-vector-index.crash-child.ts: a pseudo-random 16-d vector derived from `seed`. */
function vectorFor(seed: string): Float32Array {
  let state = [...seed].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0, 2166136261);
  return Float32Array.from({ length: 16 }, () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5);
}

function item(id: string, version = 1, fields: Partial<VectorItem['fields']> = {}): VectorItem {
  return { id, vector: vectorFor(`${id}@${version}`), version, fields: { tenant: 't', namespace: 'crash', kind: 'note', tags: [], updatedAt: version, ...fields } };
}

function randomVectors(count: number, dims: number, seed: number): Float32Array[] {
  let state = seed;
  const next = (): number => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5;
  return Array.from({ length: count }, () => Float32Array.from({ length: dims }, next));
}

/** Checks that every expected item is found by its own vector (score 1) and nothing else is there. */
async function assertHolds(index: VectorIndex, collection: string, expected: VectorItem[]): Promise<void> {
  assert.equal(await index.count(collection), expected.length);
  for (const it of expected) {
    const [hit] = await index.search(collection, { vector: it.vector, k: 1, model: 'm', filter: { tenant: it.fields.tenant } });
    assert.equal(hit?.id, it.id, `${it.id} is found by its own vector`);
    assert.ok(Math.abs((hit?.score ?? 0) - 1) < 1e-4, `${it.id} has its current vector`);
  }
}

describe('embedded HNSW vector index', () => {
  it('reaches recall@10 >= 0.95 against exact search on 5,000 random 64-d vectors', async () => {
    const index = await createHnswVectorIndex({ path: tempDir() });
    try {
      await index.ensureCollection({ name: 'recall', dims: 64, model: 'm' });
      const vectors = randomVectors(5000, 64, 7);
      for (let start = 0; start < vectors.length; start += 1000) {
        await index.upsert('recall', vectors.slice(start, start + 1000).map((vector, i) => ({ id: `v${start + i}`, vector, version: 1, fields: { tenant: 't', namespace: 'n', kind: 'k', tags: [], updatedAt: 0 } })));
      }
      const norms = vectors.map((v) => Math.hypot(...v));
      let found = 0;
      const queries = randomVectors(50, 64, 99);
      for (const query of queries) {
        const exact = vectors
          .map((v, i) => ({ id: `v${i}`, score: v.reduce((sum, x, d) => sum + x * (query[d] as number), 0) / (norms[i] as number) }))
          .sort((a, b) => b.score - a.score)
          .slice(0, 10);
        const hits = await index.search('recall', { vector: query, k: 10, model: 'm', filter: { tenant: 't' } });
        found += hits.filter((h) => exact.some((e) => e.id === h.id)).length;
      }
      const recall = found / (queries.length * 10);
      assert.ok(recall >= 0.95, `recall@10 = ${recall}`);
    } finally {
      await index.close();
    }
  });

  it('keeps recall@10 >= 0.95 on uniform random vectors filtered to one of 10 tenants, exactly and through the graph', async () => {
    // Uniform random vectors are the loosest data there is: no clusters, neighbours barely nearer
    // than the rest. Half of each tenant is kind 'a', so a second filter passes 5% of the graph.
    const dir = tempDir();
    const dims = 64;
    const vectors = randomVectors(5000, dims, 21);
    const fields = (i: number): VectorItem['fields'] => ({ tenant: `t${i % 10}`, namespace: 'n', kind: i % 20 < 10 ? 'a' : 'b', tags: [], updatedAt: 0 });
    let index = await createHnswVectorIndex({ path: dir });
    await index.ensureCollection({ name: 'loose', dims, model: 'm' });
    for (let start = 0; start < vectors.length; start += 1000) {
      await index.upsert('loose', vectors.slice(start, start + 1000).map((vector, i) => ({ id: `v${start + i}`, vector, version: 1, fields: fields(start + i) })));
    }
    const norms = vectors.map((v) => Math.hypot(...v));
    const queries = randomVectors(40, dims, 77);
    const cases = [undefined, 'a'].map((kind) => ({
      kind,
      // Per query: its filter and the ids of the exact top 10 among the items that pass it.
      expected: queries.map((query, q) => {
        const filter = { tenant: `t${q % 10}`, ...(kind === undefined ? {} : { kind }) };
        const exact = vectors
          .map((v, i) => ({ i, score: v.reduce((sum, x, d) => sum + x * (query[d] as number), 0) / (norms[i] as number) }))
          .filter(({ i }) => fields(i).tenant === filter.tenant && (kind === undefined || fields(i).kind === kind))
          .sort((a, b) => b.score - a.score)
          .slice(0, 10);
        return { filter, ids: new Set(exact.map((e) => `v${e.i}`)) };
      }),
    }));
    const assertRecall = async (how: string): Promise<void> => {
      for (const { kind, expected } of cases) {
        let found = 0;
        for (const [q, { filter, ids }] of expected.entries()) {
          const hits = await index.search('loose', { vector: queries[q] as Float32Array, k: 10, model: 'm', filter });
          found += hits.filter((h) => ids.has(h.id)).length;
        }
        const recall = found / (queries.length * 10);
        assert.ok(recall >= 0.95, `${how}, kind ${kind}: recall@10 = ${recall}`);
      }
    };
    try {
      await assertRecall('default plan');
      // The same data through the graph only (reopened: the exact-search copy is rebuilt from LMDB).
      await index.close();
      index = await createHnswVectorIndex({ path: dir, exactSearchBelow: 0 });
      await assertRecall('graph only');
    } finally {
      await index.close();
    }
  });

  it('recovers every write committed after the last snapshot when the process is killed', async () => {
    const dir = tempDir();
    const before = Array.from({ length: 10 }, (_, i) => item(`before-${i}`));
    let index = await createHnswVectorIndex({ path: dir, exactSearchBelow: 0 });
    await index.ensureCollection({ name: 'crash', dims: 16, model: 'm' });
    await index.upsert('crash', before);
    await index.close();

    // Started the way bin/engram.mjs starts the app, tsx registered from code rather than with
    // `--import tsx` (as this test runs): the graph worker has to load under both.
    const childUrl = new URL('./hnsw-vector-index.crash-child.ts', import.meta.url).href;
    const script = `import { register } from 'tsx/esm/api'; register(); await import(${JSON.stringify(childUrl)});`;
    const child = spawn(process.execPath, ['--input-type=module', '--eval', script, dir], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('durable') && resolve());
      child.on('exit', (code) => reject(new Error(`child exited early (${code}): ${stderr}`)));
    });
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    assert.equal(stderr, '', 'no snapshot failed in the child');

    index = await createHnswVectorIndex({ path: dir, exactSearchBelow: 0 });
    try {
      const expected = [...before.slice(2), item('before-1', 2), ...Array.from({ length: 9 }, (_, i) => item(`after-${i}`))];
      await assertHolds(index, 'crash', expected);
      const hits = await index.search('crash', { vector: before[0]?.vector as Float32Array, k: 20, model: 'm', filter: { tenant: 't' } });
      assert.ok(!hits.some((h) => h.id === 'before-0'), 'the deleted item stays deleted');
    } finally {
      await index.close();
    }
  });

  for (const damage of ['missing', 'corrupt', 'truncated'] as const) {
    it(`rebuilds from LMDB when the snapshot is ${damage}`, async () => {
      const dir = tempDir();
      const items = Array.from({ length: 40 }, (_, i) => item(`i${i}`));
      let index = await createHnswVectorIndex({ path: dir, exactSearchBelow: 0 });
      await index.ensureCollection({ name: 'snap', dims: 16, model: 'm' });
      await index.upsert('snap', items);
      await index.delete('snap', [{ id: 'i0', version: 2 }]);
      await index.close();
      const file = path.join(dir, 'snapshots', 'snap.hnsw');
      const size = fs.statSync(file).size;
      if (damage === 'missing') fs.rmSync(file);
      if (damage === 'corrupt') fs.writeFileSync(file, Buffer.alloc(size, 0x5a));
      if (damage === 'truncated') fs.truncateSync(file, Math.floor(size / 2));
      index = await createHnswVectorIndex({ path: dir, exactSearchBelow: 0 });
      try {
        await assertHolds(index, 'snap', items.slice(1));
      } finally {
        await index.close();
      }
    });
  }

  it('stays exact through churn: deleted labels are reused without ghosts', async () => {
    const index = await createHnswVectorIndex({ path: tempDir(), exactSearchBelow: 0 });
    try {
      await index.ensureCollection({ name: 'churn', dims: 16, model: 'm' });
      let live: VectorItem[] = [];
      for (let round = 1; round <= 4; round++) {
        await index.delete('churn', live.filter((_, i) => i % 2 === 0).map((it) => ({ id: it.id, version: round })));
        live = live.filter((_, i) => i % 2 === 1);
        const fresh = Array.from({ length: 30 }, (_, i) => item(`r${round}-${i}`, round));
        const updated = live.map((it) => item(it.id, round));
        await index.upsert('churn', [...fresh, ...updated]);
        live = [...updated, ...fresh];
        await assertHolds(index, 'churn', live);
      }
    } finally {
      await index.close();
    }
  });

  it('answers a selective filter on a large tenant exactly', async () => {
    const index = await createHnswVectorIndex({ path: tempDir(), exactSearchBelow: 20 });
    try {
      await index.ensureCollection({ name: 'sel', dims: 16, model: 'm' });
      const items = Array.from({ length: 400 }, (_, i) => item(`s${i}`, 1, { sessionId: i % 40 === 0 ? 'rare' : 'common' }));
      await index.upsert('sel', items);
      const query = vectorFor('query');
      const hits = await index.search('sel', { vector: query, k: 20, model: 'm', filter: { tenant: 't', sessionId: 'rare' } });
      assert.deepEqual(hits.map((h) => h.id).sort(), items.filter((_, i) => i % 40 === 0).map((it) => it.id).sort());
    } finally {
      await index.close();
    }
  });

  it('stages upserts while a background snapshot is written, and a copy taken then recovers every item', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const index = await createHnswVectorIndex({ path: dir, snapshotEvery: 300, exactSearchBelow: 0 });
    const items = randomVectors(1600, 64, 3).map((vector, i) => ({ id: `b${i}`, vector, version: 1, fields: { tenant: 't', namespace: 'n', kind: 'k', tags: [], updatedAt: 0 } }));
    const copy = tempDir();
    try {
      await index.ensureCollection({ name: 'bg', dims: 64, model: 'm' });
      // Each batch is staged at once and inserted afterwards, so the snapshots the batches start find
      // points not yet in the graph: a snapshot claims only what its graph holds.
      for (let start = 0; start < items.length; start += 400) await index.upsert('bg', items.slice(start, start + 400));
      const file = path.join(dir, 'snapshots', 'bg.hnsw');
      // The last snapshot is written, then recorded in LMDB; copy once nothing has moved for a while.
      const settled = () => fs.existsSync(file) && !fs.existsSync(`${file}.tmp`) && Date.now() - fs.statSync(file).mtimeMs > 500;
      while (!settled()) await new Promise((resolve) => setTimeout(resolve, 50));
      fs.cpSync(dir, copy, { recursive: true }); // as a crash would leave it: no closing snapshot
    } finally {
      await index.close();
    }
    const recovered = await createHnswVectorIndex({ path: copy, exactSearchBelow: 0 });
    try {
      await assertHolds(recovered, 'bg', items);
    } finally {
      await recovered.close();
    }
  });

  it('serialises concurrent writers without losing any, even when close() comes right after them', async () => {
    const dir = tempDir();
    let index = await createHnswVectorIndex({ path: dir, snapshotEvery: 7 });
    await index.ensureCollection({ name: 'conc', dims: 16, model: 'm' });
    const items = Array.from({ length: 60 }, (_, i) => item(`c${i}`));
    const writes = items.map((it) => index.upsert('conc', [it]));
    await Promise.all([...writes, index.close()]);
    index = await createHnswVectorIndex({ path: dir, exactSearchBelow: 0 });
    try {
      await assertHolds(index, 'conc', items);
    } finally {
      await index.close();
    }
  });

  it('fails calls with a retriable vector_index_unavailable when the graph worker dies, and recovers in a new one', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const unavailable = (error: unknown): boolean => {
      const { code, retriable } = error as { code?: unknown; retriable?: unknown };
      assert.deepEqual({ code, retriable }, { code: 'vector_index_unavailable', retriable: true });
      return true;
    };
    // A small JS heap for the worker: a batch too big for it kills the worker (out of memory), as a
    // bug or a real OOM would, while the main thread has committed the batch to LMDB already.
    let index = await createHnswVectorIndex({ path: dir, exactSearchBelow: 0, workerResourceLimits: { maxOldGenerationSizeMb: 16 } });
    await index.ensureCollection({ name: 'dies', dims: 16, model: 'm' });
    const small = Array.from({ length: 10 }, (_, i) => item(`ok-${i}`));
    await index.upsert('dies', small);
    const mebibyte = 'x'.repeat(1 << 20);
    // One id 64 times: 64 MiB of fields to receive, of which the worker keeps only the last copy.
    const burst = Array.from({ length: 64 }, () => item('burst', 1, { tags: [mebibyte] }));
    await assert.rejects(index.upsert('dies', burst), unavailable);
    // The next call starts a new worker, which loads what LMDB holds, the fatal batch included.
    await assertHolds(index, 'dies', [...small, item('burst', 1, { tags: [mebibyte] })]);

    // More than the heap can ever hold: each new worker dies while loading, and calls keep failing
    // (without hanging) until the cause is gone.
    const tooMuch = Array.from({ length: 24 }, (_, i) => item(`big-${i}`, 1, { tags: [mebibyte] }));
    await assert.rejects(index.upsert('dies', tooMuch), unavailable);
    await assert.rejects(index.search('dies', { vector: vectorFor('q'), k: 1, model: 'm', filter: { tenant: 't' } }), unavailable);
    assert.equal(await index.count('dies'), 11 + tooMuch.length, 'the main thread still counts from what LMDB committed');
    await index.close();
    index = await createHnswVectorIndex({ path: dir, exactSearchBelow: 0 });
    try {
      await assertHolds(index, 'dies', [...small, item('burst', 1, { tags: [mebibyte] }), ...tooMuch]);
    } finally {
      await index.close();
    }
  });

  it('refuses vectors without a direction and bad options', async () => {
    const index = await createHnswVectorIndex({ path: tempDir() });
    try {
      await index.ensureCollection({ name: 'bad', dims: 4, model: 'm' });
      const fields = { tenant: 't', namespace: 'n', kind: 'k', tags: [], updatedAt: 0 };
      await assert.rejects(index.upsert('bad', [{ id: 'z', version: 1, vector: new Float32Array(4), fields }]), { code: 'invalid_vector' });
      await assert.rejects(index.upsert('bad', [{ id: 'n', version: 1, vector: Float32Array.of(1, NaN, 0, 0), fields }]), { code: 'invalid_vector' });
      await assert.rejects(index.upsert('bad', [{ id: 'x'.repeat(1025), version: 1, vector: Float32Array.of(1, 0, 0, 0), fields }]), { code: 'invalid_vector_item' });
      await assert.rejects(index.ensureCollection({ name: 'no/slashes', dims: 4, model: 'm' }), { code: 'invalid_collection_name' });
      assert.equal(await index.count('bad'), 0);
    } finally {
      await index.close();
    }
    await assert.rejects(createHnswVectorIndex({ path: tempDir(), M: 0 }), { code: 'invalid_option' });
    await assert.rejects(index.count('bad'), { code: 'vector_index_closed' });
  });
});
