/**
 * Engram on Kafka (`ENGRAM_LOG=kafka`, the engines of `npm run engines:up`) beside raw kafkajs on the
 * same broker. Every Engram process is `engram <command>` as a child process with topics under a
 * prefix and a transactional id of its own run (bench/lib/engram-server.ts), 8 partitions; events
 * are MemoryWritten with a ~300-byte JSON value and unique keys (no text unless said).
 *
 * Per run:
 * 1. Ingest → Kafka. `engram ingest-api` alone; `--warmup` events, then `--count` events as POST
 *    /v1/events batches of 100, `--concurrency` (16) in flight: accepted/s (first POST → last 202,
 *    i.e. durable in `memory-events`), p50/p99 POST latency, server CPU per event.
 *    Raw: an idempotent kafkajs producer (acks=-1) sending the same records — encoded with Engram's
 *    codecs, same keys, partitions by entity and headers — in batches of 100 with 16 `send()` calls
 *    in flight to a fresh compacted topic of 8 partitions, after the same warm-up.
 * 2. Consume-and-apply. `engram enrichment-worker` alone turns that `memory-events` into
 *    `memory-enriched` (the sequencer rate is recorded: first committed batch → caught up), and
 *    stops. Then `engram projection-worker` alone (fresh KV) projects the full topic: applied/s from
 *    the first applied event to the last (the `engram_events_applied_total` counter, polled).
 *    Raw: a kafkajs consumer in a fresh group reading the same `memory-enriched` from the beginning,
 *    eachBatch, read_committed, autoCommit off, committing each batch: from the end of its first
 *    batch to the commit of the last record.
 *    2b. The sequencer's transaction alone: --transactions (100) appends of 256 records over all
 *    partitions plus consumed offsets through the adapter (`append(…, { dedupe, commit })`) vs a
 *    raw kafkajs transactional producer (send + sendOffsets + commit), with kafkajs' default first
 *    retry pause (300 ms, what the adapter inherits) and with 20 ms; sides take turns in blocks of
 *    10 back-to-back transactions; the broker's CONCURRENT_TRANSACTIONS answers are counted.
 * 3. End to end, `engram start` (every app in one process): the same ingest, accepted/s and
 *    applied/s (first POST → a GET passing the merged consistency token answers, as ingest.bench).
 *    Then freshness as bench/freshness.bench.ts measures it: the capacity for text events (8
 *    batches of 100 in flight until the vector index covers them); `--probes` (20) per second, each
 *    POSTing one text event, then in parallel a GET, a keyword and a vector search for it passing
 *    the POST's token, each repeated until it returns the event (latency from before the POST):
 *    first alone for `--idle-seconds` (10), then under a background load of `--fraction` (0.5) ×
 *    the capacity in POSTs of 10 for `--seconds` (20). A kafkajs consumer of `memory-enriched` in
 *    the bench process notes when each probe's enriched record arrives: the sequencer's stage.
 *    Part 3 runs again on the embedded log (`engram start` with default settings) as a reference
 *    under the same machine load; `--no-embedded` skips it.
 *
 * `--cpu-prof <dir>` makes every Engram process write a V8 CPU profile there (bench/lib/cpu-profile.mjs).
 *
 *   node --import tsx bench/kafka.bench.ts [--quick] [--runs 3] [--count 30000] [--concurrency 16]
 *     [--transactions 100] [--capacity-events 10000] [--idle-seconds 10] [--seconds 20] [--fraction 0.5]
 *     [--probes 20] [--no-embedded] [--cpu-prof dir]
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_TENANT, kafkaServerEnv, mergeTokens, postEvents, scrapeCounter, waitForToken, withEngramServer } from './lib/engram-server.js';
import { intOption, parseBenchArgs } from './lib/args.js';
import { runConcurrently } from './lib/http-load.js';
import { printMachine } from './lib/machine.js';
import { eventBodies, memoryEvent, type EventOptions } from './lib/memory-events.js';
import { encodeLogRecords } from './lib/pipeline-bytes.js';
import { compareTransactions } from './lib/kafka-transactions.js';
import { createBenchKafka, createTopic, deleteTopics, groupProgress, ingestMessages, rawConsume, rawProduce, watchArrivals } from './lib/raw-kafka.js';
import { measureFreshness, prefixed } from './lib/freshness-probes.js';
import { printComparison, printJsonLine, printTable, type Cell } from './lib/report.js';
import { repeat, type Metrics } from './lib/runner.js';
import { percentile } from './lib/stats.js';
import { withTempDir } from './lib/temp.js';
import { nowMs } from './lib/timer.js';

const args = parseBenchArgs(process.argv.slice(2), 3);
const count = args.quick ? 5_000 : intOption(args, 'count', 30_000);
const warmup = args.quick ? 500 : intOption(args, 'warmup', 2_000);
const concurrency = intOption(args, 'concurrency', 16);
const seconds = args.quick ? 4 : intOption(args, 'seconds', 20);
const idleSeconds = args.quick ? 3 : intOption(args, 'idle-seconds', 10);
const capacityEvents = args.quick ? 2_000 : intOption(args, 'capacity-events', 10_000);
const fraction = Number(args.values.fraction ?? 0.5);
const probesPerS = intOption(args, 'probes', 20);
const batchSize = 100;
const partitions = 8;
/** The sequencer's batch (startEnrichmentWorker's default maxBatch): records per transaction. */
const txnRecords = 256;
const txnCount = args.quick ? 30 : intOption(args, 'transactions', 100);
/** Part 3 again on the embedded log, as a reference under the same machine load (`--no-embedded` skips it). */
const embeddedReference = args.values['no-embedded'] !== true;
const namespace = 'bench/kafka';
/** Bound on waiting for a worker to catch up: a stalled consumer group fails the run instead of hanging it. */
const CATCH_UP_TIMEOUT_MS = 180_000;
/** `--cpu-prof <dir>`: every Engram process writes a V8 CPU profile under `<dir>/<command>/` when it exits. */
const cpuProfDir = typeof args.values['cpu-prof'] === 'string' ? resolve(args.values['cpu-prof']) : undefined;
const profilerPreload = fileURLToPath(new URL('./lib/cpu-profile.mjs', import.meta.url));

/** The env of one Engram process: Kafka settings, plus the profiler preload when asked for. */
function serverEnv(kafkaEnv: Record<string, string>, command: string): Record<string, string> {
  if (cpuProfDir === undefined) return kafkaEnv;
  return { ...kafkaEnv, NODE_OPTIONS: `--import ${profilerPreload}`, BENCH_CPU_PROF_DIR: join(cpuProfDir, command) };
}

const machine = printMachine();
console.log(`kafka: ${count} events (after ${warmup} warm-up), POST batches of ${batchSize}, ${concurrency} in flight, ${partitions} partitions; freshness: capacity from ${capacityEvents} text events, load ${fraction} × capacity for ${seconds} s, ${probesPerS} probes/s`);

/** Polls `read` every 25 ms until it reaches `target`; the rate runs from the first poll that saw progress. */
async function followUntil(what: string, target: number, read: () => Promise<number>): Promise<{ perSecond: number; sinceStartMs: number }> {
  const start = nowMs();
  let first: { at: number; value: number } | undefined;
  for (;;) {
    const value = await read();
    const at = nowMs();
    if (value > 0) first ??= { at, value };
    if (value >= target) return { perSecond: first !== undefined && at > first.at ? ((target - first.value) * 1000) / (at - first.at) : Number.NaN, sinceStartMs: at - start };
    if (at - start > CATCH_UP_TIMEOUT_MS) throw new Error(`${what}: ${value} of ${target} after ${CATCH_UP_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Parts 1 and 2: ingest-api alone vs raw producer; enrichment-worker; projection-worker alone vs raw consumer. */
async function ingestAndProject(run: number): Promise<Metrics> {
  const kafkaEnv = kafkaServerEnv(`r${run}`, partitions);
  const kafka = createBenchKafka(kafkaEnv.brokers, 'engram-bench');
  const admin = kafka.admin();
  await admin.connect();
  const m: Metrics = {};
  const options: EventOptions = { namespace, tag: `r${run}`, withText: false };
  const warmOptions: EventOptions = { ...options, namespace: 'bench/warmup', tag: `r${run}w` };
  const total = warmup + count;
  try {
    // 1. Ours: HTTP → ingest-api → memory-events.
    await withEngramServer({ command: 'ingest-api', env: serverEnv(kafkaEnv.env, 'ingest-api') }, async ({ client, cpuMs }) => {
      const warmBodies = eventBodies(0, warmup, batchSize, warmOptions);
      await runConcurrently(warmBodies.length, concurrency, (i) => postEvents(client, warmBodies[i]!));
      const bodies = eventBodies(0, count, batchSize, options);
      const latencies: number[] = [];
      const cpuStart = cpuMs();
      const clientCpu = process.cpuUsage();
      const start = nowMs();
      await runConcurrently(bodies.length, concurrency, async (i) => {
        const t0 = nowMs();
        await postEvents(client, bodies[i]!);
        latencies.push(nowMs() - t0);
      });
      m['ingest.acceptedPerS'] = (count * 1000) / (nowMs() - start);
      m['ingest.postP50Ms'] = percentile(latencies, 50);
      m['ingest.postP99Ms'] = percentile(latencies, 99);
      m['ingest.serverCpuUsPerEvent'] = ((cpuMs() - cpuStart) * 1000) / count;
      const used = process.cpuUsage(clientCpu);
      m['ingest.clientCpuUsPerEvent'] = (used.user + used.system) / count;
    });

    // 1. Raw: the same records, same batches and concurrency, to a fresh topic of the same shape.
    await withTempDir(async (dir) => {
      const warmInputs = Array.from({ length: warmup }, (_, i) => memoryEvent(i, warmOptions));
      const inputs = Array.from({ length: count }, (_, i) => memoryEvent(i, options));
      const encoded = await encodeLogRecords(dir, BENCH_TENANT, [...warmInputs, ...inputs]);
      const messages = ingestMessages([...warmInputs, ...inputs], encoded.events, BENCH_TENANT, partitions);
      const topic = `${kafkaEnv.prefix}raw-events`;
      await createTopic(admin, topic, partitions);
      const raw = await rawProduce(kafka, topic, messages.slice(warmup), { batchSize, concurrency, warmup: messages.slice(0, warmup) });
      m['ingest.rawPerS'] = raw.perSecond;
      m['ingest.rawSendP50Ms'] = percentile(raw.latenciesMs, 50);
      m['ingest.rawSendP99Ms'] = percentile(raw.latenciesMs, 99);
      m['ingest.rawClientCpuUsPerEvent'] = raw.cpuUsPerEvent;
      m['ingest.eventBytes'] = encoded.events.reduce((s, r) => s + r.value.length, 0) / total;
      Object.assign(m, await compareTransactions(kafka, admin, { prefix: kafkaEnv.prefix, brokers: kafkaEnv.brokers, partitions, records: txnRecords, count: txnCount }, messages));
    });

    // 2. The sequencer fills memory-enriched (recorded, not compared), then stops.
    const eventsTopic = `${kafkaEnv.prefix}memory-events`;
    await withEngramServer({ command: 'enrichment-worker', env: serverEnv(kafkaEnv.env, 'enrichment-worker') }, async ({ cpuMs }) => {
      const cpuStart = cpuMs();
      const seq = await followUntil('sequencer', total, async () => (await groupProgress(admin, `${kafkaEnv.prefix}engram-enrichment`, eventsTopic)).committed);
      m['sequencer.perS'] = seq.perSecond;
      m['sequencer.serverCpuUsPerEvent'] = ((cpuMs() - cpuStart) * 1000) / total;
    });

    // 2. Ours: projection-worker alone on the full memory-enriched, fresh KV.
    await withEngramServer({ command: 'projection-worker', env: serverEnv(kafkaEnv.env, 'projection-worker') }, async ({ client, cpuMs }) => {
      const cpuStart = cpuMs();
      const applied = await followUntil('projection', total, () => scrapeCounter(client, 'engram_events_applied_total'));
      m['project.appliedPerS'] = applied.perSecond;
      m['project.sinceListeningMs'] = applied.sinceStartMs;
      m['project.serverCpuUsPerEvent'] = ((cpuMs() - cpuStart) * 1000) / total;
    });

    // 2. Raw: a consumer reading the same memory-enriched end to end.
    const raw = await rawConsume(kafka, `${kafkaEnv.prefix}memory-enriched`, `${kafkaEnv.prefix}raw-consumer`, total, CATCH_UP_TIMEOUT_MS);
    m['project.rawConsumePerS'] = raw.perSecond;
    m['project.rawTotalMs'] = raw.totalMs;
    m['project.rawBatches'] = raw.batches;
  } finally {
    await deleteTopics(admin, kafkaEnv.prefix).catch((error: unknown) => console.warn(`could not delete topics ${kafkaEnv.prefix}*: ${String(error)}`));
    await admin.disconnect();
  }
  return m;
}

/**
 * Part 3 (and the end-to-end applied rate): `engram start` on Kafka, or on the embedded log as a
 * reference measured the same way in the same run.
 */
async function endToEnd(run: number, log: 'kafka' | 'embedded'): Promise<Metrics> {
  const kafkaEnv = log === 'kafka' ? kafkaServerEnv(`e${run}`, partitions) : undefined;
  const m: Metrics = {};
  try {
    await withEngramServer({ env: serverEnv(kafkaEnv?.env ?? {}, log === 'kafka' ? 'start' : 'start-embedded'), maxSockets: 256 }, async ({ client, cpuMs }) => {
      const options: EventOptions = { namespace, tag: `e${run}`, withText: false };
      const warmBodies = eventBodies(0, warmup, batchSize, { ...options, namespace: 'bench/warmup', tag: `e${run}w` });
      const warmTokens = await runConcurrently(warmBodies.length, concurrency, async (i) => (await postEvents(client, warmBodies[i]!)).token);
      await waitForToken(client, mergeTokens(warmTokens), { namespace: 'bench/warmup', key: 'none' });

      const bodies = eventBodies(0, count, batchSize, options);
      const cpuStart = cpuMs();
      const start = nowMs();
      const tokens = await runConcurrently(bodies.length, concurrency, async (i) => (await postEvents(client, bodies[i]!)).token);
      m['e2e.acceptedPerS'] = (count * 1000) / (nowMs() - start);
      await waitForToken(client, mergeTokens(tokens), { namespace, key: memoryEvent(count - 1, options).key });
      m['e2e.appliedPerS'] = (count * 1000) / (nowMs() - start);
      m['e2e.serverCpuUsPerEvent'] = ((cpuMs() - cpuStart) * 1000) / count;

      // Freshness. On Kafka a consumer of memory-enriched in this process times the sequencer's stage.
      const watch = kafkaEnv && (await watchArrivals(createBenchKafka(kafkaEnv.brokers, 'engram-bench'), `${kafkaEnv.prefix}memory-enriched`, `${kafkaEnv.prefix}watch`));
      try {
        const freshness = { namespace: 'bench/fresh', tag: `${log}${run}`, capacityEvents, idleSeconds, seconds, fraction, probesPerS, recordKey: (id: string) => `${BENCH_TENANT}|${id}` };
        Object.assign(m, await measureFreshness(client, cpuMs, freshness, watch?.arrivals));
      } finally {
        await watch?.stop();
      }
    });
  } finally {
    if (kafkaEnv !== undefined) {
      const admin = createBenchKafka(kafkaEnv.brokers, 'engram-bench').admin();
      await admin.connect();
      await deleteTopics(admin, kafkaEnv.prefix).catch((error: unknown) => console.warn(`could not delete topics ${kafkaEnv.prefix}*: ${String(error)}`));
      await admin.disconnect();
    }
  }
  return m;
}

const RATIOS = [
  ['ingest.acceptedVsRaw', 'ingest.acceptedPerS', 'ingest.rawPerS'],
  ['project.appliedVsRaw', 'project.appliedPerS', 'project.rawConsumePerS'],
  ['txn.oursVsRaw', 'txn.oursPerS', 'txn.rawPerS'],
  ['txn.oursVsRaw20', 'txn.oursPerS', 'txn.raw20PerS'],
  ['e2e.appliedVsRawConsume', 'e2e.appliedPerS', 'project.rawConsumePerS'],
] as const;

const results = await repeat({ label: 'kafka', runs: args.runs }, async (run) => {
  const metrics = { ...(await ingestAndProject(run)), ...(await endToEnd(run, 'kafka')) };
  if (embeddedReference) Object.assign(metrics, prefixed('embedded', await endToEnd(run, 'embedded')));
  for (const [name, ours, raw] of RATIOS) metrics[name] = metrics[ours]! / metrics[raw]!;
  return metrics;
});

const med = results.median;
const n = (key: string): number => med[key] ?? Number.NaN;
printComparison(`Kafka: Engram vs raw kafkajs, same broker (medians of ${args.runs} runs; events/s)`, med, [
  { label: 'ingest-api accepted (HTTP → memory-events) vs raw idempotent producer', ours: 'ingest.acceptedPerS', raw: 'ingest.rawPerS' },
  { label: 'projection-worker applied (memory-enriched → KV) vs raw consumer', ours: 'project.appliedPerS', raw: 'project.rawConsumePerS' },
  { label: 'engram start applied (first POST → GET with token) vs raw consumer', ours: 'e2e.appliedPerS', raw: 'project.rawConsumePerS' },
], { ours: 'Engram', raw: 'raw kafkajs' }, results.runs);
printComparison(`Sequencer transaction of ${txnRecords} records + offsets, back to back (medians; transactions/s)`, med, [
  { label: 'adapter append(commit) vs raw kafkajs, 300 ms retry pause', ours: 'txn.oursPerS', raw: 'txn.rawPerS' },
  { label: 'adapter append(commit) vs raw kafkajs, 20 ms retry pause', ours: 'txn.oursPerS', raw: 'txn.raw20PerS' },
], { ours: 'Engram', raw: 'raw kafkajs' }, results.runs);
printTable(`Sequencer transactions (medians of ${args.runs} runs)`, ['figure', 'adapter', 'raw, 300 ms pause', 'raw, 20 ms pause'], [
  ['p50 (ms)', n('txn.oursP50Ms'), n('txn.rawP50Ms'), n('txn.raw20P50Ms')],
  ['p99 (ms)', n('txn.oursP99Ms'), n('txn.rawP99Ms'), n('txn.raw20P99Ms')],
  [`CONCURRENT_TRANSACTIONS answers per ${txnCount} transactions`, n('txn.oursConcurrentRetries'), n('txn.rawConcurrentRetries'), n('txn.raw20ConcurrentRetries')],
]);
printTable(`Latency and cost (medians of ${args.runs} runs)`, ['figure', 'Engram', 'raw kafkajs'], [
  ['POST / send() of 100 events, p50 (ms)', n('ingest.postP50Ms'), n('ingest.rawSendP50Ms')],
  ['POST / send() of 100 events, p99 (ms)', n('ingest.postP99Ms'), n('ingest.rawSendP99Ms')],
  ['ingest CPU per event: server / raw producer (µs)', n('ingest.serverCpuUsPerEvent'), n('ingest.rawClientCpuUsPerEvent')],
  ['sequencer (enrichment-worker) events/s', n('sequencer.perS'), '-'],
  ['engram start accepted events/s (all apps in one process)', n('e2e.acceptedPerS'), '-'],
]);
if (embeddedReference) {
  printComparison(`engram start on Kafka vs on the embedded log, same run (medians of ${args.runs} runs)`, med, [
    { label: 'accepted events/s (no text)', ours: 'e2e.acceptedPerS', raw: 'embedded.e2e.acceptedPerS' },
    { label: 'applied events/s (no text)', ours: 'e2e.appliedPerS', raw: 'embedded.e2e.appliedPerS' },
    { label: 'server CPU µs per event until applied', ours: 'e2e.serverCpuUsPerEvent', raw: 'embedded.e2e.serverCpuUsPerEvent' },
    { label: 'text events/s applied (capacity)', ours: 'capacity.appliedPerS', raw: 'embedded.capacity.appliedPerS' },
    { label: 'text events/s indexed (capacity)', ours: 'capacity.indexedPerS', raw: 'embedded.capacity.indexedPerS' },
  ], { ours: 'Kafka', raw: 'embedded' }, results.runs);
}
const STAGES = [
  ['post', 'POST answered (in memory-events)'],
  ['enriched', 'in memory-enriched (sequencer committed)'],
  ['get', 'GET returns it (KV applied)'],
  ['keyword', 'keyword search finds it'],
  ['vector', 'vector search finds it'],
] as const;
const cell = (key: string): Cell => med[key] ?? '-';
printTable(
  `POST → visible, probes of one text event (medians of ${args.runs} runs; ms from before the POST; load = ${fraction} × that log's indexing capacity)`,
  ['stage', 'Kafka idle p50', 'p99', 'Kafka load p50', 'p99', 'p50 2nd half', ...(embeddedReference ? ['embedded idle p50', 'p99', 'embedded load p50', 'p99'] : [])],
  STAGES.map(([key, label]) => [
    label,
    ...['idle', 'load'].flatMap((phase) => [cell(`${phase}.${key}.p50Ms`), cell(`${phase}.${key}.p99Ms`)]),
    cell(`load.${key}.p50SecondHalfMs`),
    ...(embeddedReference ? ['idle', 'load'].flatMap((phase) => [cell(`embedded.${phase}.${key}.p50Ms`), cell(`embedded.${phase}.${key}.p99Ms`)]) : []),
  ]),
);
printTable('Freshness load (medians; events/s)', ['figure', 'Kafka', ...(embeddedReference ? ['embedded'] : [])], [
  ['capacity: text events applied to KV', 'capacity.appliedPerS'],
  ['capacity: text events indexed (HNSW)', 'capacity.indexedPerS'],
  [`background offered (${fraction} × indexed capacity)`, 'load.offeredPerS'],
  ['background achieved', 'load.achievedPerS'],
  ['background POST p99 (ms)', 'load.postP99Ms'],
  ['wait for the server to go idle before the probes (ms)', 'idle.settleMs'],
].map(([label, key]) => [label!, cell(key!), ...(embeddedReference ? [cell(`embedded.${key!}`)] : [])]));
printJsonLine({ bench: 'kafka', machine, params: { count, warmup, batchSize, concurrency, partitions, txnRecords, txnCount, capacityEvents, fraction, seconds, idleSeconds, probesPerS, embeddedReference, runs: args.runs }, results });
