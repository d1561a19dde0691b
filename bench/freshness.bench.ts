/**
 * Freshness: how long from POSTing an event until a read returns it, while `engram start` (a child
 * process) takes a steady background load at half its measured indexing capacity.
 *
 * Per run, on a fresh server (bench/lib/freshness-probes.ts has the details; the Kafka benchmark
 * measures the same way):
 * 1. capacity: `--capacity-events` (10,000) text events POSTed as fast as 8 concurrent batches of
 *    100 go, timed from the first POST until the vector index covers them all (a vector search
 *    passing the merged consistency token): the end-to-end indexing capacity in events/s. The time
 *    until the KV projection had applied them is recorded too.
 * 2. settle: the server is left to finish the burst's background work (under 10% of a core for a
 *    second; `idle.settleMs`): the graph worker still inserts the points it staged, so a load started
 *    at once would first pay off the burst's backlog, not run at half the capacity.
 * 3. probes alone for `--idle-seconds` (10), then under an open-loop background load of `--fraction`
 *    (0.5) × the capacity in POSTs of 10 text events for `--seconds` (20). `--probes` (20) times a
 *    second, a probe: t0, POST one event with a unique ~20-word text, then in parallel a GET of its
 *    key and searches for its text, `mode: 'vector'` and `mode: 'keyword'`, k = 1, each passing the
 *    POST's token (the server waits until the KV projection, the vector index or the keyword index
 *    covers it) and repeated until it returns the probe (a repeat counts as a miss); latency = the
 *    answer that had it − t0.
 * Reported per phase and read: p50 / p99 / max (and the p50 of the second half: higher than the
 * whole run's when a backlog builds up), and the capacity, offered and achieved rates. There is no
 * raw library doing "visible in search" end to end; the comparison printed is against the target
 * (p99 ≤ 100 ms).
 *
 * With `--embedder minilm` the server embeds with the real sentence model (ENGRAM_MODEL_DIR, else
 * .cache/models) instead of the hashing embedder: the capacity is then the model's, and the load is
 * half of the embedding capacity. `--linger N` sets ENGRAM_EMBED_LINGER_MS (dynamic batching).
 * `--load N` offers N events/s instead of a fraction of the capacity (A/B runs of settings that move
 * the capacity).
 *
 *   node --import tsx bench/freshness.bench.ts [--quick] [--runs 3] [--seconds 20] [--idle-seconds 10] [--capacity-events 10000] [--load 800]
 *   node --import tsx bench/freshness.bench.ts --embedder minilm --capacity-events 3000 [--linger 10]
 */
import { intOption, parseBenchArgs } from './lib/args.js';
import { withEngramServer } from './lib/engram-server.js';
import { measureFreshness, PROBE_READS } from './lib/freshness-probes.js';
import { printMachine } from './lib/machine.js';
import { benchModelDir } from './lib/model-dir.js';
import { printJsonLine, printTable } from './lib/report.js';
import { repeat } from './lib/runner.js';

const args = parseBenchArgs(process.argv.slice(2), 3);
const seconds = args.quick ? 4 : intOption(args, 'seconds', 20);
const idleSeconds = args.quick ? 2 : intOption(args, 'idle-seconds', 10);
const capacityEvents = args.quick ? 2_000 : intOption(args, 'capacity-events', 10_000);
const fraction = Number(args.values.fraction ?? 0.5);
const fixedLoad = args.values.load === undefined ? undefined : intOption(args, 'load', 0);
const probesPerS = intOption(args, 'probes', 20);
const TARGET_P99_MS = 100;
const embedder = args.values.embedder ?? 'hash';
if (embedder !== 'hash' && embedder !== 'minilm') throw new Error(`--embedder must be hash or minilm, got ${String(embedder)}`);
const lingerMs = Number(args.values.linger ?? 0);
const serverEnv: Record<string, string> = { ENGRAM_EMBEDDER: String(embedder), ENGRAM_EMBED_LINGER_MS: String(lingerMs) };
if (embedder === 'minilm') serverEnv.ENGRAM_MODEL_DIR = benchModelDir();

const machine = printMachine();
console.log(
  `freshness: embedder ${String(embedder)}, linger ${lingerMs} ms; capacity from ${capacityEvents} text events; probes alone for ${idleSeconds} s, ` +
    `then under ${fixedLoad === undefined ? `${fraction} × capacity` : `${fixedLoad} events/s`} in POSTs of 10 for ${seconds} s; ${probesPerS} probes/s`,
);

const results = await repeat({ label: 'freshness', runs: args.runs }, (run) =>
  withEngramServer({ maxSockets: 256, env: serverEnv }, ({ client, cpuMs }) =>
    measureFreshness(client, cpuMs, { namespace: 'bench/fresh', tag: `r${run}`, capacityEvents, idleSeconds, seconds, fraction, fixedLoad, probesPerS }),
  ),
);

const med = results.median;
const n = (key: string): number => med[key] ?? Number.NaN;
printTable(`Indexing capacity over HTTP, text events (medians of ${args.runs} runs)`, ['figure', 'events/s'], [
  ['applied to KV (GET-visible)', n('capacity.appliedPerS')],
  ['indexed in HNSW (vector-visible) = capacity', n('capacity.indexedPerS')],
  [`background load offered (${fixedLoad === undefined ? `${fraction} × capacity` : 'fixed'})`, n('load.offeredPerS')],
  ['background load achieved', n('load.achievedPerS')],
  ['ms until idle after the capacity burst', n('idle.settleMs')],
]);
const phases = idleSeconds > 0 ? (['idle', 'load'] as const) : (['load'] as const);
printTable(`POST → visible (medians of ${args.runs} runs; ms): probes alone (idle) and under the load`, ['phase', 'read', 'p50', 'p99', 'max', 'p50, 2nd half', 'target p99', 'misses'], phases.flatMap((phase) =>
  PROBE_READS.map((read) => [phase, read, n(`${phase}.${read}.p50Ms`), n(`${phase}.${read}.p99Ms`), n(`${phase}.${read}.maxMs`), n(`${phase}.${read}.p50SecondHalfMs`), read === 'get' ? '' : `≤ ${TARGET_P99_MS}`, n(`${phase}.${read}.misses`)]),
));
printJsonLine({ bench: 'freshness', machine, params: { seconds, idleSeconds, capacityEvents, fraction, fixedLoad, probesPerS, embedder, lingerMs, runs: args.runs }, results });
