/**
 * Vector search at 100,000 memories × 384 dims: recall@10 against exact search, p50/p99 latency and
 * QPS of the embedded index (`createHnswVectorIndex`) beside raw hnswlib on the same vectors, with
 * the same M / efConstruction / ef. Two layouts:
 *   - one tenant holding every vector (the graph is searched without a filter callback);
 *   - ten tenants of 10,000 vectors, each query filtered to one tenant (how Engram is queried);
 *     raw hnswlib gets the equivalent filter callback on the same graph.
 *
 * `--clusters` and `--noise` change the data (see lib/vectors.ts); `--sweep` also prints raw hnswlib's
 * recall at several ef values (first run only), to show how much margin the index's ef leaves.
 *
 *   node --import tsx bench/vector-search.bench.ts [--quick] [--runs 5] [--count 100000] [--queries 1000]
 *     [--clusters 1000] [--noise 1] [--sweep] [--m 16] [--ef-construction 100]
 */
import type { HierarchicalNSW } from 'hnswlib-node';
import type { VectorIndex } from '@engram/ports';
import { intOption, numberOption, parseBenchArgs } from './lib/args.js';
import { engramScenario, itemIndex, measureInsertRate, MODEL, rawHnswScenario } from './lib/indexing.js';
import { printMachine } from './lib/machine.js';
import { printComparison, printJsonLine, printTable } from './lib/report.js';
import { repeat } from './lib/runner.js';
import type { Metrics } from './lib/runner.js';
import { recall, summarizeLatencies } from './lib/stats.js';
import { directoryBytes, withTempDir } from './lib/temp.js';
import { nowMs, timeEach } from './lib/timer.js';
import { clusteredVectors, exactNeighbours, row } from './lib/vectors.js';

const args = parseBenchArgs();
const dims = 384;
const k = 10;
const tenants = 10;
const count = args.quick ? 10_000 : intOption(args, 'count', 100_000);
const queryCount = args.quick ? 300 : intOption(args, 'queries', 1000);
const batchSize = intOption(args, 'batch', 100);
const clusters = intOption(args, 'clusters', 1000);
const noise = numberOption(args, 'noise', 1);
const sweep = args.values.sweep === true;
// The embedded index's defaults (createHnswVectorIndex), given to raw hnswlib too.
const graph = { dims, M: intOption(args, 'm', 16), efConstruction: intOption(args, 'ef-construction', 100) };
// The embedded index searches with max(efSearch, 16·k) (hnsw-collection.ts, EF_PER_K): 160 for k = 10.
const ef = Math.max(64, 16 * k);
/** Untimed queries before each timed loop, so JIT warm-up is not charged to either side. */
const warmup = Math.min(100, queryCount);

const machine = printMachine();
const params = { count, k, queries: queryCount, clusters, noise, seed: 42, tenants, batchSize, ...graph, ef, runs: args.runs };
console.log(`vector search: ${count} vectors × ${dims} dims (${clusters} clusters, noise ${noise}), ${queryCount} held-out queries, k=${k}, M=${graph.M}, efConstruction=${graph.efConstruction}, ef=${ef}, batches of ${batchSize}`);
if (count / tenants <= 2000) console.log(`note: ${count / tenants} vectors per tenant is within the index's exactSearchBelow (2000): the ten-tenant case is searched exactly, not through HNSW`);

let t = nowMs();
const data = clusteredVectors({ count: count + queryCount, dims, clusters, noise, seed: 42 });
const base = data.subarray(0, count * dims);
const queries = data.subarray(count * dims);
console.log(`generated in ${((nowMs() - t) / 1000).toFixed(1)} s`);
t = nowMs();
const truth = exactNeighbours(base, queries, dims, k, tenants);
console.log(`exact top-${k} of all ${queryCount} queries (all rows, and within the query's tenant) in ${((nowMs() - t) / 1000).toFixed(1)} s`);

/** Tenant of vector i in the ten-tenant layout, and the tenant query q is filtered to. */
const tenantOf = (i: number): string => `t${i % tenants}`;

function meanRecall(found: number[][], expected: Int32Array[]): number {
  return found.reduce((sum, labels, q) => sum + recall(labels, expected[q] as Int32Array), 0) / found.length;
}

async function measureSearch(prefix: string, search: (q: number) => number[] | Promise<number[]>, expected: Int32Array[]): Promise<Metrics> {
  for (let q = 0; q < warmup; q++) await search(q);
  const found: number[][] = [];
  const { latenciesMs, totalMs } = await timeEach(queryCount, (q) => {
    const r = search(q);
    return r instanceof Promise ? r.then((labels) => void (found[q] = labels)) : void (found[q] = r);
  });
  const s = summarizeLatencies(latenciesMs, totalMs);
  return { [`${prefix}.recall`]: meanRecall(found, expected), [`${prefix}.p50Ms`]: s.p50Ms, [`${prefix}.p99Ms`]: s.p99Ms, [`${prefix}.qps`]: s.perSecond };
}

function rawSearch(hnsw: HierarchicalNSW, filtered: boolean, efSearch = ef): (q: number) => number[] {
  hnsw.setEf(efSearch);
  return (q) => {
    const point = Array.from(row(queries, dims, q));
    const group = q % tenants;
    return (filtered ? hnsw.searchKnn(point, k, (label) => label % tenants === group) : hnsw.searchKnn(point, k)).neighbors;
  };
}

function engramSearch(index: VectorIndex, tenant: (q: number) => string): (q: number) => Promise<number[]> {
  return async (q) => {
    const hits = await index.search('bench', { vector: row(queries, dims, q), k, model: MODEL, filter: { tenant: tenant(q) } });
    return hits.map((h) => itemIndex(h.id));
  };
}

/** Builds the embedded index with the given tenant layout, then runs the searches. */
async function engramRun(prefix: string, tenantOfItem: (i: number) => string, tenantOfQuery: (q: number) => string, expected: Int32Array[]): Promise<Metrics> {
  return withTempDir(async (path) => {
    const { scenario, index } = await engramScenario({ ...graph, path, collection: 'bench', tenantOf: tenantOfItem });
    try {
      const build = await measureInsertRate(scenario, base, dims, count, batchSize);
      const search = await measureSearch(prefix, engramSearch(index, tenantOfQuery), expected);
      return { [`${prefix}.buildS`]: build.seconds, [`${prefix}.insertsPerS`]: build.perSecond, ...search, [`${prefix}.diskMB`]: directoryBytes(path) / 2 ** 20 };
    } finally {
      await index.close();
    }
  });
}

/** Raw hnswlib's recall at several ef values on the graph just built (unfiltered and tenant-filtered). */
async function sweepEf(hnsw: HierarchicalNSW): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  for (const value of [16, 32, 64, 100, 160, 320, 640]) {
    const all = await measureSearch('all', rawSearch(hnsw, false, value), truth.all);
    const one = await measureSearch('one', rawSearch(hnsw, true, value), truth.inGroup);
    rows.push([String(value), (all['all.recall'] ?? Number.NaN).toFixed(4), all['all.p50Ms'] ?? Number.NaN, (one['one.recall'] ?? Number.NaN).toFixed(4), one['one.p50Ms'] ?? Number.NaN]);
  }
  printTable('raw hnswlib, recall@10 by ef (first run)', ['ef', 'recall, all', 'p50 ms, all', `recall, 1 of ${tenants} tenants`, 'p50 ms, filtered'], rows);
}

const results = await repeat({ label: 'vector-search', runs: args.runs }, async (run) => {
  const raw = rawHnswScenario(graph, count);
  const rawBuild = await measureInsertRate(raw.scenario, base, dims, count, batchSize);
  if (sweep && run === 1) await sweepEf(raw.graph);
  const rawAll = await measureSearch('raw', rawSearch(raw.graph, false), truth.all);
  const rawTenant = await measureSearch('raw10', rawSearch(raw.graph, true), truth.inGroup);
  const ours = await engramRun('ours', () => 'acme', () => 'acme', truth.all);
  const ours10 = await engramRun('ours10', tenantOf, (q) => tenantOf(q), truth.inGroup);
  return { 'raw.buildS': rawBuild.seconds, 'raw.insertsPerS': rawBuild.perSecond, ...rawAll, ...rawTenant, ...ours, ...ours10 };
});

const m = results.median;
const searchRows = (o: string, r: string) => [
  { label: `recall@${k}`, ours: `${o}.recall`, raw: `${r}.recall`, digits: 4 },
  { label: 'search p50 (ms)', ours: `${o}.p50Ms`, raw: `${r}.p50Ms` },
  { label: 'search p99 (ms)', ours: `${o}.p99Ms`, raw: `${r}.p99Ms` },
  { label: 'QPS (1 thread, sequential)', ours: `${o}.qps`, raw: `${r}.qps` },
];
printComparison(`One tenant, ${count} vectors (medians of ${args.runs} runs)`, m, [
  { label: 'build (s)', ours: 'ours.buildS', raw: 'raw.buildS' },
  { label: 'inserts/s', ours: 'ours.insertsPerS', raw: 'raw.insertsPerS' },
  ...searchRows('ours', 'raw'),
], undefined, results.runs);
printComparison(`${tenants} tenants × ${count / tenants}, query filtered to one tenant (medians of ${args.runs} runs)`, m, [
  { label: 'build (s)', ours: 'ours10.buildS', raw: 'raw.buildS' },
  ...searchRows('ours10', 'raw10'),
], undefined, results.runs);
printTable('Target', ['check', 'value', 'verdict'], [
  [`recall@${k}, one tenant`, (m['ours.recall'] ?? Number.NaN).toFixed(4), (m['ours.recall'] ?? 0) >= 0.95 ? 'meets ≥ 0.95' : 'BELOW 0.95'],
  [`recall@${k}, ${tenants} tenants`, (m['ours10.recall'] ?? Number.NaN).toFixed(4), (m['ours10.recall'] ?? 0) >= 0.95 ? 'meets ≥ 0.95' : 'BELOW 0.95'],
  ['on-disk size (MB)', m['ours.diskMB'] ?? Number.NaN, 'LMDB + HNSW snapshot'],
]);
printJsonLine({ bench: 'vector-search', machine, params, results });
