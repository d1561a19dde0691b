/**
 * The two keyword indexes side by side on the same documents (ENGRAM_KEYWORD_INDEX=memory | kv):
 * `--count` (100,000) distinct ~20-word texts in one tenant, spread over 8 partitions.
 *
 * - build: the in-memory index (`set` per document) against the KV index as the projection writes it
 *   (planKeywordUpdate + one durable LMDB batch per 100 documents), documents/s;
 * - rebuild: what `engram start` does with the in-memory index: scan every state in the KV store
 *   (written beforehand, not timed) and index its text, documents/s and total ms;
 * - memory: heap growth of the in-memory index (after a forced GC when run with --expose-gc);
 * - queries: 500 queries of 3 random words, k = 10, p50 / p99 latency on each index.
 *
 *   node --expose-gc --import tsx bench/keyword-index.bench.ts [--quick] [--runs 3] [--count 100000]
 */
import { join } from 'node:path';
import { createLmdbKvStore, type KvOp } from '@engram/ports';
import { createMemoryKeywordIndex, kvKeywordPostings, planKeywordUpdate, rebuildKeywordIndex, searchKeyword, stateKey, tokenize } from '@engram/pipeline';
import { intOption, parseBenchArgs } from './lib/args.js';
import { printMachine } from './lib/machine.js';
import { printComparison, printJsonLine, printTable } from './lib/report.js';
import { repeat } from './lib/runner.js';
import { sentences } from './lib/sentences.js';
import { percentile } from './lib/stats.js';
import { withTempDir } from './lib/temp.js';
import { nowMs } from './lib/timer.js';
import { createRandom } from './lib/vectors.js';

const args = parseBenchArgs();
const count = args.quick ? 20_000 : intOption(args, 'count', 100_000);
const PARTITIONS = 8;
const TENANT = 'bench';
const QUERIES = 500;

const machine = printMachine();
console.log(`keyword index: ${count} texts of ~20 words, in memory and in the KV store (LMDB)`);
const texts = sentences({ count, tokens: 22, seed: 7, countTokens: (t) => t.split(' ').length + 2 });
const ids = texts.map((_, i) => `${TENANT}|notes|doc-${i}`);
const random = createRandom(11);
const queries = Array.from({ length: QUERIES }, () => {
  const words = texts[Math.floor(random() * count)]!.split(' ');
  return [0, 1, 2].map(() => words[Math.floor(random() * words.length)]).join(' ');
});
const distinctTerms = texts.reduce((sum, t) => sum + new Set(tokenize(t)).size, 0) / count;
console.log(`${distinctTerms.toFixed(1)} distinct terms per text after stop words`);

const gc = (globalThis as { gc?: () => void }).gc;
const heapUsed = (): number => {
  gc?.();
  return process.memoryUsage().heapUsed;
};

async function timeQueries(search: (text: string) => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  const ms: number[] = [];
  for (const q of queries) {
    const t0 = nowMs();
    await search(q);
    ms.push(nowMs() - t0);
  }
  return { p50: percentile(ms, 50), p99: percentile(ms, 99) };
}

const results = await repeat({ label: 'keyword-index', runs: args.runs }, async () =>
  withTempDir(async (dir) => {
    // The in-memory index, built document by document.
    const heap0 = heapUsed();
    const memory = createMemoryKeywordIndex();
    let t0 = nowMs();
    ids.forEach((id, i) => memory.set(id, texts[i]));
    const memoryBuildPerS = (count * 1000) / (nowMs() - t0);
    const heapMb = (heapUsed() - heap0) / 2 ** 20;
    const memoryQ = await timeQueries((text) => searchKeyword(memory.postings, { tenant: TENANT, text, k: 10 }));

    // The KV index as the projection writes it, 100 documents per durable batch.
    const kv = createLmdbKvStore({ path: join(dir, 'kv') });
    t0 = nowMs();
    for (let start = 0; start < count; start += 100) {
      const changes = ids.slice(start, start + 100).map((entityId, j) => ({ entityId, tenant: TENANT, partition: (start + j) % PARTITIONS, after: texts[start + j] }));
      await kv.batch(await planKeywordUpdate(kv, changes));
    }
    const kvBuildPerS = (count * 1000) / (nowMs() - t0);
    const kvQ = await timeQueries((text) => searchKeyword(kvKeywordPostings(kv), { tenant: TENANT, text, k: 10 }));

    // States in KV (not timed), then the start-up rebuild of the in-memory index from them.
    for (let start = 0; start < count; start += 1000) {
      const ops: KvOp[] = ids.slice(start, start + 1000).map((id, j) => ({ type: 'put', key: stateKey(id), value: Buffer.from(JSON.stringify({ tenant: TENANT, namespace: 'notes', key: `doc-${start + j}`, value: null, text: texts[start + j], version: 1 })) }));
      await kv.batch(ops);
    }
    const rebuilt = createMemoryKeywordIndex();
    t0 = nowMs();
    await rebuildKeywordIndex(kv, rebuilt, PARTITIONS);
    const rebuildMs = nowMs() - t0;
    if (rebuilt.size().docs !== count) throw new Error(`rebuild indexed ${rebuilt.size().docs} of ${count}`);
    await kv.close();
    return {
      'memory.buildPerS': memoryBuildPerS,
      'kv.buildPerS': kvBuildPerS,
      'memory.heapMb': heapMb,
      'rebuild.ms': rebuildMs,
      'rebuild.perS': (count * 1000) / rebuildMs,
      'memory.queryP50Ms': memoryQ.p50,
      'memory.queryP99Ms': memoryQ.p99,
      'kv.queryP50Ms': kvQ.p50,
      'kv.queryP99Ms': kvQ.p99,
    };
  }),
);

const m = results.median;
printComparison(`Keyword index, ${count} documents (medians of ${args.runs} runs)`, m, [
  { label: 'build, documents/s', ours: 'memory.buildPerS', raw: 'kv.buildPerS' },
  { label: 'query p50 (ms)', ours: 'memory.queryP50Ms', raw: 'kv.queryP50Ms' },
  { label: 'query p99 (ms)', ours: 'memory.queryP99Ms', raw: 'kv.queryP99Ms' },
], { ours: 'in memory', raw: 'in KV (LMDB)' }, results.runs);
printTable('In-memory index at start-up and in the heap', ['median of runs', 'value'], [
  ['rebuild from KV states, ms', m['rebuild.ms'] ?? Number.NaN],
  ['rebuild, documents/s', m['rebuild.perS'] ?? Number.NaN],
  [`heap growth, MB${gc ? '' : ' (no --expose-gc: approximate)'}`, m['memory.heapMb'] ?? Number.NaN],
]);
printJsonLine({ bench: 'keyword-index', machine, params: { count, partitions: PARTITIONS, queries: QUERIES, runs: args.runs }, results });
