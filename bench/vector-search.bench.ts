/**
 * Vector search at 100,000 memories × 384 dims: recall@10 against exact search, p50/p99 latency and
 * QPS of the embedded index (`createHnswVectorIndex`) beside raw hnswlib on the same vectors, with
 * the same M / efConstruction. Two layouts:
 *   - one tenant holding every vector (the graph is searched without a filter callback), both at
 *     ef 160 (the index's 16·k);
 *   - ten tenants of 10,000 vectors, each query filtered to one tenant (how Engram is queried).
 *     The index runs its own plan (hnsw-search-plan.ts: at this size one tenant in ten is searched
 *     exactly), and again reopened with `exactSearchBelow: 0`, which forces the filtered graph at
 *     the ef the plan gives a 10% filter (4·k / 0.1 = 400). Raw hnswlib gets the equivalent filter
 *     callback on the same graph, at ef 160 (its figure before the index widened ef) and at 400.
 *
 * Searches are paired: the index and raw hnswlib answer each query back to back (see measurePaired).
 * They start once the index is idle (`settleMs`): its upserts resolve when the points are staged
 * (searchable), and the graph worker inserts the last ~1,000 of them afterwards; searches meanwhile
 * would measure that drain beside a raw graph that holds everything (docs/decisions.md, "Vector
 * search sees an upsert before hnswlib has inserted it").
 *
 * Every data set in `--noise` is measured in turn (see lib/vectors.ts): 1, tight clusters, and 2,
 * loose ones (harder: filtered recall at ef 160 falls to ~0.93 there). `--sweep` also prints raw
 * hnswlib's recall at several ef values (first run only).
 *
 *   node --import tsx bench/vector-search.bench.ts [--quick] [--runs 5] [--count 100000] [--queries 1000]
 *     [--clusters 1000] [--noise 1,2] [--sweep] [--m 16] [--ef-construction 100]
 */
import type { HierarchicalNSW } from 'hnswlib-node';
import { createHnswVectorIndex } from '@engram/ports';
import type { VectorIndex } from '@engram/ports';
import { intOption, numberListOption, parseBenchArgs } from './lib/args.js';
import { engramScenario, itemIndex, measureInsertRate, MODEL, rawHnswScenario } from './lib/indexing.js';
import { printMachine } from './lib/machine.js';
import { printComparison, printJsonLine, printTable } from './lib/report.js';
import { repeat } from './lib/runner.js';
import type { Metrics } from './lib/runner.js';
import { recall, summarizeLatencies } from './lib/stats.js';
import { ownCpuMs, waitUntilIdle } from './lib/proc-cpu.js';
import { directoryBytes, withTempDir } from './lib/temp.js';
import { nowMs, timeEach } from './lib/timer.js';
import { clusteredVectors, exactNeighbours, row } from './lib/vectors.js';
import type { ExactNeighbours } from './lib/vectors.js';

const args = parseBenchArgs();
const dims = 384;
const k = 10;
const tenants = 10;
const count = args.quick ? 10_000 : intOption(args, 'count', 100_000);
const queryCount = args.quick ? 300 : intOption(args, 'queries', 1000);
const batchSize = intOption(args, 'batch', 100);
const clusters = intOption(args, 'clusters', 1000);
const noises = numberListOption(args, 'noise', [1, 2]);
const sweep = args.values.sweep === true;
// The embedded index's defaults (createHnswVectorIndex), given to raw hnswlib too.
const graph = { dims, M: intOption(args, 'm', 16), efConstruction: intOption(args, 'ef-construction', 100) };
// The index's ef (hnsw-search-plan.ts): max(efSearch 64, 16·k) without a filter, 160 for k = 10;
// with one, max(that, 4·k / fraction) up to 64·k: 400 for a tenant holding one item in ten.
const ef = Math.max(64, 16 * k);
const filteredEf = Math.max(ef, Math.min(Math.ceil(4 * k * tenants), 64 * k));
/** Untimed queries before each timed loop, so JIT warm-up is not charged to either side. */
const warmup = Math.min(100, queryCount);

/** Tenant of vector i in the ten-tenant layout, and the tenant query q is filtered to. */
const tenantOf = (i: number): string => `t${i % tenants}`;

interface DataSet {
  base: Float32Array;
  queries: Float32Array;
  truth: ExactNeighbours;
}

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

function rawSearch(data: DataSet, hnsw: HierarchicalNSW, filtered: boolean, efSearch: number): (q: number) => number[] {
  return (q) => {
    // Set per query: the sweep and the two filtered ef values share one graph.
    hnsw.setEf(efSearch);
    const point = Array.from(row(data.queries, dims, q));
    const group = q % tenants;
    return (filtered ? hnsw.searchKnn(point, k, (label) => label % tenants === group) : hnsw.searchKnn(point, k)).neighbors;
  };
}

function engramSearch(data: DataSet, index: VectorIndex, tenant: (q: number) => string): (q: number) => Promise<number[]> {
  return async (q) => {
    const hits = await index.search('bench', { vector: row(data.queries, dims, q), k, model: MODEL, filter: { tenant: tenant(q) } });
    return hits.map((h) => itemIndex(h.id));
  };
}

/** Builds the embedded index with one tenant, then runs the unfiltered searches beside raw hnswlib's. */
async function engramOneTenant(data: DataSet, raw: HierarchicalNSW): Promise<Metrics> {
  return withTempDir(async (path) => {
    const { scenario, index } = await engramScenario({ ...graph, path, collection: 'bench', tenantOf: () => 'acme' });
    try {
      const build = await measureInsertRate(scenario, data.base, dims, count, batchSize);
      const settleMs = await waitUntilIdle(ownCpuMs, SETTLE);
      const search = await measurePaired(['ours', engramSearch(data, index, () => 'acme')], ['raw', rawSearch(data, raw, false, ef)], data.truth.all);
      return { 'ours.buildS': build.seconds, 'ours.insertsPerS': build.perSecond, 'ours.settleMs': settleMs, ...search, 'ours.diskMB': directoryBytes(path) / 2 ** 20 };
    } finally {
      await index.close();
    }
  });
}

/**
 * Builds the embedded index with ten tenants and runs the filtered searches with the index's own
 * plan (`ours10`, beside raw hnswlib at ef 160), then reopens it with `exactSearchBelow: 0` and runs
 * them through the graph (`ours10g`, beside raw hnswlib at the same ef). The reopen is timed: it
 * loads the snapshot and reads every vector back from LMDB.
 */
async function engramTenTenants(data: DataSet, raw: HierarchicalNSW): Promise<Metrics> {
  return withTempDir(async (path) => {
    const { scenario, index } = await engramScenario({ ...graph, path, collection: 'bench', tenantOf });
    let metrics: Metrics;
    try {
      const build = await measureInsertRate(scenario, data.base, dims, count, batchSize);
      const settleMs = await waitUntilIdle(ownCpuMs, SETTLE);
      const search = await measurePaired(['ours10', engramSearch(data, index, tenantOf)], ['raw10', rawSearch(data, raw, true, ef)], data.truth.inGroup);
      metrics = { 'ours10.buildS': build.seconds, 'ours10.settleMs': settleMs, ...search };
    } finally {
      await index.close();
    }
    const start = nowMs();
    const graphOnly = await createHnswVectorIndex({ path, M: graph.M, efConstruction: graph.efConstruction, exactSearchBelow: 0 });
    try {
      await graphOnly.count('bench'); // the first call waits for the worker's load
      const reopenS = (nowMs() - start) / 1000;
      const search = await measurePaired(['ours10g', engramSearch(data, graphOnly, tenantOf)], ['raw10w', rawSearch(data, raw, true, filteredEf)], data.truth.inGroup);
      return { ...metrics, 'ours10g.reopenS': reopenS, ...search };
    } finally {
      await graphOnly.close();
    }
  });
}

type Search = (q: number) => number[] | Promise<number[]>;

/** Idle: under 10% of a core over 250 ms, graph worker included (the bench itself only waits meanwhile). */
const SETTLE = { maxShare: 0.1, windowMs: 250 };

/**
 * The index and raw hnswlib query by query, alternating which goes first: on a shared machine the
 * load drifts over the minutes a loop takes, and pairing makes both sides meet the same load. QPS is
 * then queries / the side's summed latencies (its share of the loop's wall time).
 */
async function measurePaired(ours: [string, Search], raw: [string, Search], expected: Int32Array[]): Promise<Metrics> {
  const sides = [ours, raw];
  for (const [, search] of sides) for (let q = 0; q < warmup; q++) await search(q);
  const found = sides.map((): number[][] => []);
  const latencies = sides.map(() => new Array<number>(queryCount));
  for (let q = 0; q < queryCount; q++) {
    for (const side of q % 2 === 0 ? [0, 1] : [1, 0]) {
      const search = (sides[side] as [string, Search])[1];
      const t0 = nowMs();
      const labels = await search(q);
      (latencies[side] as number[])[q] = nowMs() - t0;
      (found[side] as number[][])[q] = labels;
    }
  }
  const metrics: Metrics = {};
  sides.forEach(([prefix], side) => {
    const ms = latencies[side] as number[];
    const s = summarizeLatencies(ms, ms.reduce((a, b) => a + b, 0));
    Object.assign(metrics, { [`${prefix}.recall`]: meanRecall(found[side] as number[][], expected), [`${prefix}.p50Ms`]: s.p50Ms, [`${prefix}.p99Ms`]: s.p99Ms, [`${prefix}.qps`]: s.perSecond });
  });
  return metrics;
}

/** Raw hnswlib's recall at several ef values on the graph just built (unfiltered and tenant-filtered). */
async function sweepEf(data: DataSet, hnsw: HierarchicalNSW): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  for (const value of [16, 32, 64, 100, 160, 320, 400, 640]) {
    const all = await measureSearch('all', rawSearch(data, hnsw, false, value), data.truth.all);
    const one = await measureSearch('one', rawSearch(data, hnsw, true, value), data.truth.inGroup);
    rows.push([String(value), (all['all.recall'] ?? Number.NaN).toFixed(4), all['all.p50Ms'] ?? Number.NaN, (one['one.recall'] ?? Number.NaN).toFixed(4), one['one.p50Ms'] ?? Number.NaN]);
  }
  printTable('raw hnswlib, recall@10 by ef (first run)', ['ef', 'recall, all', 'p50 ms, all', `recall, 1 of ${tenants} tenants`, 'p50 ms, filtered'], rows);
}

async function benchDataSet(noise: number): Promise<void> {
  const params = { count, k, queries: queryCount, clusters, noise, seed: 42, tenants, batchSize, ...graph, ef, filteredEf, runs: args.runs };
  console.log(`\nvector search: ${count} vectors × ${dims} dims (${clusters} clusters, noise ${noise}), ${queryCount} held-out queries, k=${k}, M=${graph.M}, efConstruction=${graph.efConstruction}, ef=${ef} (filtered graph: ${filteredEf}), batches of ${batchSize}`);
  let t = nowMs();
  const all = clusteredVectors({ count: count + queryCount, dims, clusters, noise, seed: 42 });
  const base = all.subarray(0, count * dims);
  const queries = all.subarray(count * dims);
  console.log(`generated in ${((nowMs() - t) / 1000).toFixed(1)} s`);
  t = nowMs();
  const data: DataSet = { base, queries, truth: exactNeighbours(base, queries, dims, k, tenants) };
  console.log(`exact top-${k} of all ${queryCount} queries (all rows, and within the query's tenant) in ${((nowMs() - t) / 1000).toFixed(1)} s`);

  const results = await repeat({ label: `vector-search noise ${noise}`, runs: args.runs }, async (run) => {
    const raw = rawHnswScenario(graph, count);
    const rawBuild = await measureInsertRate(raw.scenario, base, dims, count, batchSize);
    if (sweep && run === 1) await sweepEf(data, raw.graph);
    const ours = await engramOneTenant(data, raw.graph);
    const ours10 = await engramTenTenants(data, raw.graph);
    return { 'raw.buildS': rawBuild.seconds, 'raw.insertsPerS': rawBuild.perSecond, ...ours, ...ours10 };
  });

  const m = results.median;
  const searchRows = (o: string, r: string) => [
    { label: `recall@${k}`, ours: `${o}.recall`, raw: `${r}.recall`, digits: 4 },
    { label: 'search p50 (ms)', ours: `${o}.p50Ms`, raw: `${r}.p50Ms` },
    { label: 'search p99 (ms)', ours: `${o}.p99Ms`, raw: `${r}.p99Ms` },
    { label: 'QPS (1 thread, sequential)', ours: `${o}.qps`, raw: `${r}.qps` },
  ];
  const of = `noise ${noise}, medians of ${args.runs} runs`;
  printComparison(`One tenant, ${count} vectors, no filter; both ef ${ef} (${of})`, m, [
    { label: 'build (s)', ours: 'ours.buildS', raw: 'raw.buildS' },
    { label: 'inserts/s', ours: 'ours.insertsPerS', raw: 'raw.insertsPerS' },
    ...searchRows('ours', 'raw'),
  ], undefined, results.runs);
  printComparison(`${tenants} tenants × ${count / tenants}, filtered to one: the index's plan vs raw hnswlib at ef ${ef} (${of})`, m, [
    { label: 'build (s)', ours: 'ours10.buildS', raw: 'raw.buildS' },
    ...searchRows('ours10', 'raw10'),
  ], undefined, results.runs);
  printComparison(`${tenants} tenants, filtered, graph only: both ef ${filteredEf} (${of})`, m, searchRows('ours10g', 'raw10w'), undefined, results.runs);
  const verdict = (key: string): string => ((m[key] ?? 0) >= 0.95 ? 'meets ≥ 0.95' : 'BELOW 0.95');
  printTable(`Target (${of})`, ['check', 'value', 'verdict'], [
    [`recall@${k}, one tenant`, (m['ours.recall'] ?? Number.NaN).toFixed(4), verdict('ours.recall')],
    [`recall@${k}, ${tenants} tenants (index's plan)`, (m['ours10.recall'] ?? Number.NaN).toFixed(4), verdict('ours10.recall')],
    [`recall@${k}, ${tenants} tenants (graph only)`, (m['ours10g.recall'] ?? Number.NaN).toFixed(4), verdict('ours10g.recall')],
    ['on-disk size (MB)', m['ours.diskMB'] ?? Number.NaN, 'LMDB + HNSW snapshot'],
    ['reopen, ten tenants (s)', m['ours10g.reopenS'] ?? Number.NaN, 'snapshot + every vector from LMDB'],
  ]);
  printJsonLine({ bench: 'vector-search', machine, params, results });
}

const machine = printMachine();
for (const noise of noises) await benchDataSet(noise);
