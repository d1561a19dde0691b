/**
 * Freshness: how long from POSTing an event until a search finds it, while `engram start` (a child
 * process) takes a steady background load at half its measured indexing capacity.
 *
 * Per run, on a fresh server:
 * 1. capacity: `--capacity-events` (10,000) text events POSTed as fast as 8 concurrent batches of
 *    100 go, timed from the first POST until the vector index covers them all (a vector search
 *    passing the merged consistency token): the end-to-end indexing capacity in events/s. The time
 *    until the KV projection had applied them is recorded too.
 * 2. load: `--fraction` (0.5) of that capacity as an open-loop stream of POSTs of 10 text events
 *    each, for `--seconds` (20); meanwhile, `--probes` (20) times a second, a probe:
 *    t0, POST one event with a unique ~20-word text, then two searches in parallel for that text,
 *    `mode: 'vector'` and `mode: 'keyword'`, k = 1, passing the POST's token (the server waits until
 *    the vector index — keyword: the keyword index — covers it); t1 when a response arrives whose
 *    top hit is the probe (a response without it is repeated, and counted as a miss).
 * Reported: p50 / p99 of t1 - t0 per mode (and the p50 of the second half of the probes: higher
 * than the whole run's when a backlog builds up), the capacity, the offered and achieved rates.
 * There is no raw library doing "visible in search" end to end; the comparison printed is against
 * the target (p99 ≤ 100 ms).
 *
 * With `--embedder minilm` the server embeds with the real sentence model (ENGRAM_MODEL_DIR, else
 * .cache/models) instead of the hashing embedder: the capacity is then the model's, and the load is
 * half of the embedding capacity. `--linger N` sets ENGRAM_EMBED_LINGER_MS (dynamic batching).
 *
 *   node --import tsx bench/freshness.bench.ts [--quick] [--runs 3] [--seconds 20] [--capacity-events 10000] [--load 800]
 *   node --import tsx bench/freshness.bench.ts --embedder minilm --capacity-events 3000 [--linger 10]
 */
import { intOption, parseBenchArgs } from './lib/args.js';
import { mergeTokens, postEvents, waitForToken, withEngramServer } from './lib/engram-server.js';
import { openLoop, runConcurrently, type HttpClient } from './lib/http-load.js';
import { printMachine } from './lib/machine.js';
import { benchModelDir } from './lib/model-dir.js';
import { eventBodies, memoryEvent } from './lib/memory-events.js';
import { printJsonLine, printTable } from './lib/report.js';
import { repeat, type Metrics } from './lib/runner.js';
import { percentile } from './lib/stats.js';
import { nowMs } from './lib/timer.js';

const args = parseBenchArgs(process.argv.slice(2), 3);
const seconds = args.quick ? 4 : intOption(args, 'seconds', 20);
const capacityEvents = args.quick ? 2_000 : intOption(args, 'capacity-events', 10_000);
const fraction = Number(args.values.fraction ?? 0.5);
/** `--load N`: offer N events/s instead of `fraction` × the measured capacity (A/B runs of settings that move the capacity). */
const fixedLoad = args.values.load === undefined ? undefined : intOption(args, 'load', 0);
const probesPerS = intOption(args, 'probes', 20);
const bgBatch = 10;
const namespace = 'bench/fresh';
const TARGET_P99_MS = 100;
const embedder = args.values.embedder ?? 'hash';
if (embedder !== 'hash' && embedder !== 'minilm') throw new Error(`--embedder must be hash or minilm, got ${String(embedder)}`);
const lingerMs = Number(args.values.linger ?? 0);
const serverEnv: Record<string, string> = { ENGRAM_EMBEDDER: String(embedder), ENGRAM_EMBED_LINGER_MS: String(lingerMs) };
if (embedder === 'minilm') serverEnv.ENGRAM_MODEL_DIR = benchModelDir();

const machine = printMachine();
console.log(`freshness: embedder ${String(embedder)}, linger ${lingerMs} ms; capacity from ${capacityEvents} text events; load at ${fixedLoad === undefined ? `${fraction} × capacity` : `${fixedLoad} events/s`} in POSTs of ${bgBatch} for ${seconds} s; ${probesPerS} probes/s`);

interface SearchReply {
  results: Array<{ key: string }>;
}

/** Searches for `text` (passing `token`) until the top hit is `key`; resolves with the number of misses. */
async function searchUntilFound(client: HttpClient, mode: 'vector' | 'keyword', text: string, key: string, token: string): Promise<number> {
  for (let misses = 0; ; misses++) {
    const reply = await client.json<SearchReply>('POST', '/v1/search', { query: text, mode, k: 1, consistentWith: token });
    if (reply.results[0]?.key === key) return misses;
    if (misses > 1000) throw new Error(`${mode} search never found ${key}`);
  }
}

async function freshnessRun(run: number): Promise<Metrics> {
  return withEngramServer({ maxSockets: 256, env: serverEnv }, async ({ client }) => {
    const m: Metrics = {};
    // 1. Capacity (the first 1,000 events also warm the server up; all count).
    const capacityBodies = eventBodies(0, capacityEvents, 100, { namespace, tag: `c${run}`, withText: true });
    const start = nowMs();
    const tokens = await runConcurrently(capacityBodies.length, 8, async (i) => (await postEvents(client, capacityBodies[i]!)).token);
    const token = mergeTokens(tokens);
    await waitForToken(client, token, { namespace, key: 'none' });
    m['capacity.appliedPerS'] = (capacityEvents * 1000) / (nowMs() - start);
    await waitForToken(client, token, { namespace, key: 'none', vectors: true });
    const capacity = (capacityEvents * 1000) / (nowMs() - start);
    m['capacity.indexedPerS'] = capacity;

    // 2. Background load at `fraction` of capacity, probes alongside.
    const rate = fixedLoad ?? capacity * fraction;
    const batchesPerS = rate / bgBatch;
    const bgBodies = eventBodies(0, Math.ceil(batchesPerS * seconds + 1) * bgBatch, bgBatch, { namespace, tag: `b${run}`, withText: true });
    const latencies = { vector: [] as number[], keyword: [] as number[] };
    // Probes of the second half: a backlog that grows during the run shows as a higher median there.
    const lateLatencies = { vector: [] as number[], keyword: [] as number[] };
    const firstLateProbe = Math.floor((probesPerS * seconds) / 2);
    const misses = { vector: 0, keyword: 0 };
    const probe = async (i: number): Promise<void> => {
      const event = memoryEvent(i, { namespace, tag: `p${run}`, withText: true });
      const t0 = nowMs();
      const { token: probeToken } = await postEvents(client, JSON.stringify({ events: [event] }));
      await Promise.all(
        (['vector', 'keyword'] as const).map(async (mode) => {
          misses[mode] += await searchUntilFound(client, mode, event.text!, event.key, probeToken);
          latencies[mode].push(nowMs() - t0);
          if (i >= firstLateProbe) lateLatencies[mode].push(nowMs() - t0);
        }),
      );
    };
    const [background, probes] = await Promise.all([
      openLoop(batchesPerS, seconds * 1000, (i) => postEvents(client, bgBodies[i]!).then(() => undefined)),
      openLoop(probesPerS, seconds * 1000, probe),
    ]);
    if (probes.errors > 0 || background.errors > 0) throw new Error(`freshness run: ${probes.errors} probe and ${background.errors} background errors`);
    m['load.offeredPerS'] = rate;
    m['load.achievedPerS'] = background.perSecond * bgBatch;
    m['load.postP99Ms'] = percentile(background.latenciesMs, 99);
    for (const mode of ['vector', 'keyword'] as const) {
      m[`${mode}.p50Ms`] = percentile(latencies[mode], 50);
      m[`${mode}.p99Ms`] = percentile(latencies[mode], 99);
      m[`${mode}.maxMs`] = percentile(latencies[mode], 100);
      m[`${mode}.p50SecondHalfMs`] = percentile(lateLatencies[mode], 50);
      m[`${mode}.misses`] = misses[mode];
      m[`${mode}.samples`] = latencies[mode].length;
    }
    return m;
  });
}

const results = await repeat({ label: 'freshness', runs: args.runs }, freshnessRun);

const med = results.median;
const n = (key: string): number => med[key] ?? Number.NaN;
printTable(`Indexing capacity over HTTP, text events (medians of ${args.runs} runs)`, ['figure', 'events/s'], [
  ['applied to KV (GET-visible)', n('capacity.appliedPerS')],
  ['indexed in HNSW (vector-visible) = capacity', n('capacity.indexedPerS')],
  [`background load offered (${fixedLoad === undefined ? `${fraction} × capacity` : 'fixed'})`, n('load.offeredPerS')],
  ['background load achieved', n('load.achievedPerS')],
]);
printTable(`POST → visible in search under that load (medians of ${args.runs} runs; ms)`, ['mode', 'p50', 'p99', 'max', 'p50, 2nd half', 'target p99', 'misses'], (['vector', 'keyword'] as const).map((mode) => [
  mode, n(`${mode}.p50Ms`), n(`${mode}.p99Ms`), n(`${mode}.maxMs`), n(`${mode}.p50SecondHalfMs`), `≤ ${TARGET_P99_MS}`, n(`${mode}.misses`),
]));
printJsonLine({ bench: 'freshness', machine, params: { seconds, capacityEvents, fraction, fixedLoad, probesPerS, bgBatch, embedder, lingerMs, runs: args.runs }, results });
