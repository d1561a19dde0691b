/**
 * Vector indexing: inserts/s into the embedded index (`createHnswVectorIndex`) against raw hnswlib
 * inserting the same 20,000 vectors × 384 dims, in batches of 100, same M / efConstruction.
 * A third line, raw hnswlib + raw LMDB (each batch's vectors committed durably, then added to the
 * graph), shows how much of the gap is the durability every upsert promises.
 *
 * The log → index path (events/s from the event log through enrichment and projection into the
 * index) plugs in as another {@link InsertScenario}: see `extraScenarios` below and
 * bench/lib/indexing.ts.
 *
 *   node --import tsx bench/vector-indexing.bench.ts [--quick] [--runs 5] [--count 20000] [--batch 100]
 *     [--m 16] [--ef-construction 100]
 */
import { join } from 'node:path';
import { intOption, parseBenchArgs } from './lib/args.js';
import { engramScenario, measureInsertRate, rawDurableScenario, rawHnswScenario } from './lib/indexing.js';
import type { InsertScenario } from './lib/indexing.js';
import { printMachine } from './lib/machine.js';
import { pairedRatio, printJsonLine, printTable } from './lib/report.js';
import { repeat } from './lib/runner.js';
import type { Metrics } from './lib/runner.js';
import { withTempDir } from './lib/temp.js';
import { clusteredVectors } from './lib/vectors.js';

const args = parseBenchArgs();
const dims = 384;
const count = args.quick ? 10_000 : intOption(args, 'count', 20_000);
const batchSize = intOption(args, 'batch', 100);
// The embedded index's defaults (createHnswVectorIndex), given to raw hnswlib too.
const graph = { dims, M: intOption(args, 'm', 16), efConstruction: intOption(args, 'ef-construction', 100) };

const machine = printMachine();
const params = { count, batchSize, clusters: 1000, noise: 1, seed: 42, ...graph, runs: args.runs };
console.log(`vector indexing: ${count} vectors × ${dims} dims in batches of ${batchSize}, M=${graph.M}, efConstruction=${graph.efConstruction}`);
const data = clusteredVectors({ count, dims, clusters: 1000, noise: 1, seed: 42 });

/**
 * Further scenarios measured beside the direct inserts, each built fresh per run in its own temp
 * directory and closed afterwards. The pipeline benchmark adds the log → index path here: an
 * `insert(batch)` that appends the batch as events, a `finish()` that waits until they are indexed.
 */
const extraScenarios: Array<{ key: string; open: (dir: string) => Promise<{ scenario: InsertScenario; close: () => Promise<void> }> }> = [];

async function measure(key: string, scenario: InsertScenario): Promise<Metrics> {
  const rate = await measureInsertRate(scenario, data, dims, count, batchSize);
  return { [`${key}.seconds`]: rate.seconds, [`${key}.insertsPerS`]: rate.perSecond };
}

const scenarios: Array<{ key: string; label: string; run: () => Promise<Metrics> }> = [
  { key: 'raw', label: 'raw hnswlib (in memory only)', run: () => measure('raw', rawHnswScenario(graph, count).scenario) },
  {
    key: 'rawDurable',
    label: 'raw hnswlib + raw LMDB (durable batches)',
    run: () =>
      withTempDir(async (dir) => {
        const { scenario, close } = rawDurableScenario(graph, count, join(dir, 'vectors.mdb'));
        try {
          return await measure('rawDurable', scenario);
        } finally {
          await close();
        }
      }),
  },
  {
    key: 'ours',
    label: 'Engram embedded index (upsert per batch)',
    run: () =>
      withTempDir(async (path) => {
        const { scenario, index } = await engramScenario({ ...graph, path, collection: 'bench', tenantOf: () => 'acme' });
        try {
          return await measure('ours', scenario);
        } finally {
          await index.close();
        }
      }),
  },
  ...extraScenarios.map(({ key, open }) => ({
    key,
    label: key,
    run: () =>
      withTempDir(async (dir) => {
        const { scenario, close } = await open(dir);
        try {
          return await measure(key, scenario);
        } finally {
          await close();
        }
      }),
  })),
];

const results = await repeat({ label: 'vector-indexing', runs: args.runs }, async () => {
  let metrics: Metrics = {};
  for (const s of scenarios) metrics = { ...metrics, ...(await s.run()) };
  return metrics;
});

const m = results.median;
const rawRate = m['raw.insertsPerS'] ?? Number.NaN;
printTable(
  `Inserting ${count} vectors in batches of ${batchSize} (medians of ${args.runs} runs)`,
  ['scenario', 'seconds', 'inserts/s', 'vs raw hnswlib', 'per-run ratio (median)'],
  scenarios.map(({ key, label }) => [
    label,
    m[`${key}.seconds`] ?? Number.NaN,
    m[`${key}.insertsPerS`] ?? Number.NaN,
    `${((m[`${key}.insertsPerS`] ?? Number.NaN) / rawRate).toFixed(2)}x`,
    `${pairedRatio(results.runs, `${key}.insertsPerS`, 'raw.insertsPerS').toFixed(2)}x`,
  ]),
);
printJsonLine({ bench: 'vector-indexing', machine, params, results });
