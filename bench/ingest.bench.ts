/**
 * Ingest throughput of `engram start` over HTTP, beside raw LMDB writing the same bytes in the same
 * run. The server runs as a child process (load generator and server are separate processes on the
 * same 2 cores); events are MemoryWritten with a ~300-byte JSON value and unique keys, sent as
 * POST /v1/events batches of 100 with `--concurrency` (default 16) requests in flight, in two
 * variants: without text, and with a ~20-word text (adds embedding, keyword postings and an HNSW
 * insert in the background).
 *
 * - accepted/s: events / (first POST → last 202). A 202 means durable in the log.
 * - applied/s: events / (first POST → the KV projection has applied the last event), observed with a
 *   GET that passes the merged consistency token of every batch.
 * - indexed/s (text only): events / (first POST → the vector index covers the token), observed with
 *   a vector search that passes the token.
 *
 * - sequenced/s and applied/s during ingest: events in `memory-enriched` and applied to KV by the time
 *   of the last 202, per second of ingest (read from the server's LMDB environments): whether the
 *   pipeline keeps pace with ingest or a backlog builds.
 *
 * CPU time per event (server process, all threads, from /proc; and the load generator) is reported
 * beside the rates: on shared cores it varies less than a rate does.
 *
 * Raw baselines, each a fresh LMDB environment, one durable (fsynced) transaction per batch,
 * batches written one after another:
 * - raw log: the same Avro records ingest appends (encoded with Engram's codecs), 100 per batch;
 * - raw KV: every key/value the projection stored for these events, read back from the server's KV
 *   after the run, each key once (the projection rewrites shared keyword counters and watermarks
 *   every batch; raw writes them once), 100 events' entries per batch — and again with 1,000
 *   events per batch, the projection's own batch limit (with text, a batch's postings land all over
 *   the B-tree, so the pages a commit copies, not the entries, set the cost);
 * - raw chain: events + enriched records + KV entries, i.e. all the durable bytes the pipeline
 *   writes, as 1 / (1/events + 1/enriched + 1/KV).
 *
 *   node --import tsx bench/ingest.bench.ts [--quick] [--runs 3] [--count N (default 100000 without text, 30000 with)] [--concurrency 16] [--variant plain|text]
 */
import { join } from 'node:path';
import { intOption, parseBenchArgs } from './lib/args.js';
import { BENCH_TENANT, mergeTokens, postEvents, waitForToken, withEngramServer } from './lib/engram-server.js';
import { runConcurrently } from './lib/http-load.js';
import { printMachine } from './lib/machine.js';
import { eventBodies, memoryEvent, type EventOptions } from './lib/memory-events.js';
import { encodeLogRecords, readProjectionEntries, type ProjectionEntries } from './lib/pipeline-bytes.js';
import { rawLmdbWrite } from './lib/raw-lmdb.js';
import { printComparison, printJsonLine, printTable } from './lib/report.js';
import { repeat, type Metrics } from './lib/runner.js';
import { openStageProgress } from './lib/stage-progress.js';
import { withTempDir } from './lib/temp.js';
import { nowMs } from './lib/timer.js';

const args = parseBenchArgs(process.argv.slice(2), 3);
/**
 * Events per run of each variant (`--count` sets both). A rate needs a run long enough that the
 * pipeline's drain after the last 202 (a few hundred ms: the sequencer's and the projection's last
 * batches) is small beside it: without text, at ~20,000 events/s, 30,000 events are 1.5 s of ingest
 * and the drain takes ~15% off `applied`, 100,000 are 5 s. With text the HNSW index (~2,000
 * inserts/s) sets the pace of the wait for `indexed`, so 30,000 already take ~20 s.
 */
const counts: Record<'plain' | 'text', number> = {
  plain: args.quick ? 5_000 : intOption(args, 'count', 100_000),
  text: args.quick ? 5_000 : intOption(args, 'count', 30_000),
};
const concurrency = intOption(args, 'concurrency', 16);
const warmup = args.quick ? 500 : intOption(args, 'warmup', 2_000);
const batchSize = 100;
/** Events per transaction of the second raw KV baseline, the projection's own batch limit. */
const bigBatch = 1000;
const partitions = 8;
const namespace = 'bench/ingest';

const machine = printMachine();
console.log(`ingest: ${counts.plain} events without text, ${counts.text} with text, POST batches of ${batchSize}, ${concurrency} in flight, ${warmup} warm-up events first`);

interface Variant {
  key: 'plain' | 'text';
  label: string;
  withText: boolean;
}
const allVariants: Variant[] = [
  { key: 'plain', label: 'no text', withText: false },
  { key: 'text', label: '~20-word text', withText: true },
];
/** `--variant plain` or `--variant text` runs only that one (A/B runs of one path). */
const only = args.values.variant;
const variants = allVariants.filter((v) => only === undefined || v.key === only);
if (variants.length === 0) throw new Error(`--variant must be one of ${allVariants.map((v) => v.key).join(', ')}`);

async function runVariant(variant: Variant, run: number): Promise<Metrics> {
  const count = counts[variant.key];
  const options: EventOptions = { namespace, tag: `r${run}${variant.key}`, withText: variant.withText };
  const bodies = eventBodies(0, count, batchSize, options);
  const warmBodies = eventBodies(0, warmup, batchSize, { ...options, namespace: 'bench/warmup', tag: `${options.tag}w` });
  const inputs = Array.from({ length: count }, (_, i) => memoryEvent(i, options));
  const last = inputs[count - 1]!;
  const m: Metrics = {};
  let entries: ProjectionEntries | undefined;
  let entriesBig: ProjectionEntries | undefined;

  await withEngramServer(
    {
      after: async (dataDir) => {
        entries = await readProjectionEntries(dataDir, BENCH_TENANT, inputs, partitions, batchSize);
        entriesBig = await readProjectionEntries(dataDir, BENCH_TENANT, inputs, partitions, bigBatch);
      },
    },
    async ({ client, cpuMs, dataDir }) => {
      // Warm the server (JIT, LMDB maps, first HNSW levels) and wait until it is all applied.
      const warmTokens = await runConcurrently(warmBodies.length, concurrency, async (i) => (await postEvents(client, warmBodies[i]!)).token);
      await waitForToken(client, mergeTokens(warmTokens), { namespace: 'bench/warmup', key: 'none', vectors: variant.withText });

      const stages = await openStageProgress(dataDir, { partitions });
      const start = nowMs();
      const cpuStart = cpuMs();
      const clientCpuStart = process.cpuUsage();
      const tokens = await runConcurrently(bodies.length, concurrency, async (i) => (await postEvents(client, bodies[i]!)).token);
      const accepted = nowMs();
      // How far the pipeline kept up while ingest ran (events/s sequenced and applied until the last 202).
      const atAccepted = await stages.read();
      await stages.close();
      m[`${variant.key}.sequencedDuringIngestPerS`] = (atAccepted.sequenced * 1000) / (accepted - start);
      m[`${variant.key}.appliedDuringIngestPerS`] = (atAccepted.applied * 1000) / (accepted - start);
      const token = mergeTokens(tokens);
      await waitForToken(client, token, { namespace, key: last.key });
      const applied = nowMs();
      m[`${variant.key}.acceptedPerS`] = (count * 1000) / (accepted - start);
      m[`${variant.key}.appliedPerS`] = (count * 1000) / (applied - start);
      // CPU per event until applied: server (all its threads) and this load generator.
      m[`${variant.key}.serverCpuUsPerEvent`] = ((cpuMs() - cpuStart) * 1000) / count;
      const clientCpu = process.cpuUsage(clientCpuStart);
      m[`${variant.key}.clientCpuUsPerEvent`] = (clientCpu.user + clientCpu.system) / count;
      if (variant.withText) {
        await waitForToken(client, token, { namespace, key: last.key, vectors: true });
        m[`${variant.key}.indexedPerS`] = (count * 1000) / (nowMs() - start);
        m[`${variant.key}.serverCpuUsPerEventIndexed`] = ((cpuMs() - cpuStart) * 1000) / count;
      }
    },
  );

  // Raw LMDB writing the same bytes, in the same run.
  const kv = entries!;
  await withTempDir(async (dir) => {
    const log = await encodeLogRecords(dir, BENCH_TENANT, inputs);
    const cpuStart = process.cpuUsage();
    const events = await rawLmdbWrite(join(dir, 'events.mdb'), log.events, batchSize);
    const enriched = await rawLmdbWrite(join(dir, 'enriched.mdb'), log.enriched, batchSize);
    const kvRate = await rawLmdbWrite(join(dir, 'kv.mdb'), kv.records, kv.recordsPerGroup);
    const cpu = process.cpuUsage(cpuStart);
    m[`${variant.key}.rawChainCpuUsPerEvent`] = (cpu.user + cpu.system) / count;
    const kvBigRate = await rawLmdbWrite(join(dir, 'kv-big.mdb'), entriesBig!.records, entriesBig!.recordsPerGroup);
    m[`${variant.key}.rawLogPerS`] = events;
    m[`${variant.key}.rawKvPerS`] = (kvRate * count) / kv.records.length;
    m[`${variant.key}.rawKvBigPerS`] = (kvBigRate * count) / entriesBig!.records.length;
    m[`${variant.key}.rawChainPerS`] = 1 / (1 / events + 1 / enriched + 1 / m[`${variant.key}.rawKvPerS`]!);
    m[`${variant.key}.eventBytes`] = avg(log.events.map((r) => r.value.length));
    m[`${variant.key}.enrichedBytes`] = avg(log.enriched.map((r) => r.value.length));
    m[`${variant.key}.kvEntriesPerEvent`] = kv.distinctKeys / count;
    m[`${variant.key}.kvBytesPerEvent`] = kv.records.reduce((s, r) => s + r.key.length + r.value.length, 0) / count;
  });
  return m;
}

const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Ours / raw within each run: the shared disk's fsync latency swings several-fold between runs, and a ratio from one run compares like with like. */
const RATIOS = [
  ['acceptedVsRawLog', 'acceptedPerS', 'rawLogPerS'],
  ['appliedVsRawKv', 'appliedPerS', 'rawKvPerS'],
  ['appliedVsRawKvBig', 'appliedPerS', 'rawKvBigPerS'],
  ['appliedVsRawChain', 'appliedPerS', 'rawChainPerS'],
  ['indexedVsRawChain', 'indexedPerS', 'rawChainPerS'],
] as const;

const results = await repeat({ label: 'ingest', runs: args.runs }, async (run) => {
  let metrics: Metrics = {};
  for (const variant of variants) metrics = { ...metrics, ...(await runVariant(variant, run)) };
  for (const v of variants) {
    for (const [name, ours, raw] of RATIOS) {
      const o = metrics[`${v.key}.${ours}`];
      if (o !== undefined) metrics[`${v.key}.${name}`] = o / metrics[`${v.key}.${raw}`]!;
    }
  }
  return metrics;
});

const med = results.median;
for (const v of variants) {
  printComparison(`Ingest, ${v.label} (medians of ${args.runs} runs; events/s)`, med, [
    { label: 'accepted (durable in log) vs raw log write', ours: `${v.key}.acceptedPerS`, raw: `${v.key}.rawLogPerS` },
    { label: 'applied (KV projection) vs raw KV write', ours: `${v.key}.appliedPerS`, raw: `${v.key}.rawKvPerS` },
    { label: `applied vs raw KV write, ${bigBatch} events per txn`, ours: `${v.key}.appliedPerS`, raw: `${v.key}.rawKvBigPerS` },
    { label: 'applied vs raw chain (log + enriched + KV)', ours: `${v.key}.appliedPerS`, raw: `${v.key}.rawChainPerS` },
    ...(v.withText ? [{ label: 'indexed (HNSW) vs raw chain', ours: `${v.key}.indexedPerS`, raw: `${v.key}.rawChainPerS` }] : []),
  ]);
}
printTable(`Ours / raw computed within each run, median of ${args.runs} runs`, ['variant', ...RATIOS.map(([name]) => name)], variants.map((v) => [
  v.label, ...RATIOS.map(([name]) => { const r = med[`${v.key}.${name}`]; return r === undefined ? '-' : `${r.toFixed(2)}x`; }),
]));
printTable(`Pipeline progress while ingest ran (medians of ${args.runs} runs; events/s until the last 202)`, ['variant', 'accepted', 'sequenced (memory-enriched)', 'applied (KV)'], variants.map((v) => [
  v.label,
  med[`${v.key}.acceptedPerS`] ?? Number.NaN,
  med[`${v.key}.sequencedDuringIngestPerS`] ?? Number.NaN,
  med[`${v.key}.appliedDuringIngestPerS`] ?? Number.NaN,
]));
printTable(`CPU time per event (medians of ${args.runs} runs; µs; 2 cores = 2,000,000 µs/s)`, ['variant', 'server, until applied', 'server, until indexed', 'load generator', 'raw chain (log + enriched + KV)'], variants.map((v) => [
  v.label, med[`${v.key}.serverCpuUsPerEvent`] ?? Number.NaN, med[`${v.key}.serverCpuUsPerEventIndexed`] ?? '-', med[`${v.key}.clientCpuUsPerEvent`] ?? Number.NaN, med[`${v.key}.rawChainCpuUsPerEvent`] ?? Number.NaN,
]));
printTable('Bytes written per event (medians)', ['variant', 'event record', 'enriched record', 'KV entries', 'KV bytes'], variants.map((v) => [
  v.label, med[`${v.key}.eventBytes`] ?? Number.NaN, med[`${v.key}.enrichedBytes`] ?? Number.NaN, med[`${v.key}.kvEntriesPerEvent`] ?? Number.NaN, med[`${v.key}.kvBytesPerEvent`] ?? Number.NaN,
]));
printJsonLine({ bench: 'ingest', machine, params: { counts, batchSize, bigBatch, concurrency, warmup, partitions, runs: args.runs }, results });
