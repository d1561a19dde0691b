/**
 * GET by key: over HTTP against `engram start` (a child process), beside a bare node:http + raw
 * LMDB server (also a child process) answering the same keys with the same JSON; and in process,
 * the query service's cache hit beside a raw `lmdb` get and a raw `lru-cache` get of the same key.
 *
 * HTTP, per run, on a fresh server holding `--memories` (10,000) memories written through
 * POST /v1/events and all read once (so every key is in the L1 cache, as a warmed set is), timed
 * once the pipeline has caught up with those writes (the vector watermark covers them):
 * - open loop: `--rate` (1,000) GET/s for `--seconds` (10) on seeded random keys; latency from
 *   each request's scheduled start (no coordinated omission) and from its actual send (a Node timer
 *   fires up to ~1 ms late, which the first includes), p50 / p99;
 * - closed loop: `--connections` (8) keep-alive connections sending back to back for 5 s: the
 *   maximum sustainable GET/s, its p50 / p99, and the server's CPU time per GET.
 * In process: `query.get()` (validation, entity id, LRU hit, JSON parse, view) timed one call at a
 * time, beside `lmdb` `db.get` and `LRUCache.get` of the same keys, and a raw LRU get + JSON.parse.
 *
 *   node --import tsx bench/read.bench.ts [--quick] [--runs 3] [--memories 10000] [--rate 1000] [--seconds 10] [--connections 8]
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { open } from 'lmdb';
import { applyEvent, DEFAULT_LIMITS, encodeEntityId, hlcFromWallMs, type MemoryEvent } from '@engram/core';
import { createAppliedWatermarks, createQueryService, createTelemetry, stateKey } from '@engram/pipeline';
import { createLmdbKvStore, createLruCache } from '@engram/ports';
import { intOption, parseBenchArgs } from './lib/args.js';
import { mergeTokens, postEvents, waitForToken, withEngramServer } from './lib/engram-server.js';
import { closedLoop, createHttpClient, openLoop, runConcurrently, type HttpClient, type LoadResult } from './lib/http-load.js';
import { printMachine } from './lib/machine.js';
import { eventBodies, memoryEvent } from './lib/memory-events.js';
import { startRawKvServer } from './lib/raw-kv-server.js';
import { printComparison, printJsonLine } from './lib/report.js';
import { repeat, type Metrics } from './lib/runner.js';
import { percentile } from './lib/stats.js';
import { withTempDir } from './lib/temp.js';
import { timeEach } from './lib/timer.js';
import { createRandom } from './lib/vectors.js';

const args = parseBenchArgs(process.argv.slice(2), 3);
const memories = args.quick ? 2_000 : intOption(args, 'memories', 10_000);
const rate = intOption(args, 'rate', 1_000);
const seconds = args.quick ? 2 : intOption(args, 'seconds', 10);
const connections = intOption(args, 'connections', 8);
const closedSeconds = args.quick ? 1 : 5;
const inProcessOps = args.quick ? 20_000 : intOption(args, 'ops', 200_000);
const namespace = 'bench/read';

/**
 * lru-cache as Engram uses it: v11, a dependency of @engram/ports (the root node_modules holds an
 * older major pulled in by another package), so it is resolved from there.
 */
interface Lru {
  get(key: string): Buffer | undefined;
  set(key: string, value: Buffer): unknown;
}
const { LRUCache } = createRequire(new URL('../libs/ports/package.json', import.meta.url))('lru-cache') as { LRUCache: new (options: { max: number }) => Lru };

const machine = printMachine();
console.log(`read: ${memories} memories; open loop ${rate}/s for ${seconds} s; closed loop ${connections} connections for ${closedSeconds} s; ${inProcessOps} in-process gets`);

const inputs = Array.from({ length: memories }, (_, i) => memoryEvent(i, { namespace, tag: 'read', withText: false }));
/** The same seeded key sequence for every target. */
const keySequence = (n: number): number[] => {
  const random = createRandom(3);
  return Array.from({ length: n }, () => Math.floor(random() * memories));
};
const latencyMetrics = (prefix: string, r: LoadResult): Metrics => ({
  [`${prefix}.p50Ms`]: percentile(r.latenciesMs, 50),
  [`${prefix}.p99Ms`]: percentile(r.latenciesMs, 99),
  [`${prefix}.perS`]: r.perSecond,
  [`${prefix}.errors`]: r.errors,
  ...(r.serviceMs ? { [`${prefix}.serviceP50Ms`]: percentile(r.serviceMs, 50), [`${prefix}.serviceP99Ms`]: percentile(r.serviceMs, 99) } : {}),
});

/** Open then closed loop against one server; `pathOf(i)` is the GET path of memory i; `cpuMs` the server's CPU clock. */
async function loadHttp(prefix: string, client: HttpClient, pathOf: (i: number) => string, cpuMs: () => number): Promise<Metrics> {
  const get = async (i: number): Promise<void> => {
    const reply = await client.request('GET', pathOf(i));
    if (reply.status !== 200) throw new Error(`GET ${pathOf(i)}: ${reply.status}`);
  };
  const openKeys = keySequence(rate * seconds);
  const closedKeys = keySequence(1_000_000);
  await closedLoop(connections, 500, (n) => get(closedKeys[n % closedKeys.length]!)); // warm sockets and JIT
  const open = await openLoop(rate, seconds * 1000, (n) => get(openKeys[n]!));
  const cpuStart = cpuMs();
  const closed = await closedLoop(connections, closedSeconds * 1000, (n) => get(closedKeys[n % closedKeys.length]!));
  // Server CPU per GET at saturation: steadier than GET/s when other processes share the cores.
  const cpuUsPerGet = ((cpuMs() - cpuStart) * 1000) / closed.latenciesMs.length;
  return { ...latencyMetrics(`${prefix}.open`, open), ...latencyMetrics(`${prefix}.closed`, closed), [`${prefix}.closed.serverCpuUsPerGet`]: cpuUsPerGet };
}

async function httpRun(run: number): Promise<Metrics> {
  const bodies = new Map<string, Buffer>();
  const engram = await withEngramServer({}, async ({ client, cpuMs }) => {
    const posts = eventBodies(0, memories, 100, { namespace, tag: 'read', withText: false });
    const tokens = await runConcurrently(posts.length, 8, async (i) => (await postEvents(client, posts[i]!)).token);
    await waitForToken(client, mergeTokens(tokens), { namespace, key: inputs[0]!.key });
    const pathOf = (i: number): string => `/v1/memories/${encodeURIComponent(namespace)}/${encodeURIComponent(inputs[i]!.key)}`;
    // Read every memory once: the warmed set is in the L1 cache, and its JSON feeds the raw server.
    await runConcurrently(memories, 8, async (i) => {
      const reply = await client.request('GET', pathOf(i));
      if (reply.status !== 200) throw new Error(`warm-up GET: ${reply.status}`);
      bodies.set(`${namespace}/${inputs[i]!.key}`, Buffer.from(reply.body));
    });
    // GETs are timed once the pipeline is idle: the vector indexer (main thread) has caught up with
    // the 10,000 writes too, instead of still working through them during the first seconds.
    await waitForToken(client, mergeTokens(tokens), { namespace, key: inputs[0]!.key, vectors: true });
    return loadHttp('engram', client, pathOf, cpuMs);
  });

  const raw = await withTempDir(async (dir) => {
    const path = join(dir, 'raw.mdb');
    const db = open<Buffer, string>({ path, encoding: 'binary', compression: false });
    await db.transaction(() => {
      for (const [k, v] of bodies) void db.put(k, v);
    });
    await db.close();
    const server = await startRawKvServer(path);
    const client = createHttpClient(server.baseUrl);
    try {
      return await loadHttp('raw', client, (i) => `/${encodeURIComponent(`${namespace}/${inputs[i]!.key}`)}`, server.cpuMs);
    } finally {
      client.close();
      await server.stop();
    }
  });
  console.log(`[read] run ${run}: HTTP done`);
  return { ...engram, ...raw };
}

/** The query service wired as libs/runtime wires it (LMDB KV, LRU L1), states folded by the core. */
async function inProcessRun(): Promise<Metrics> {
  return withTempDir(async (dir) => {
    const kv = createLmdbKvStore({ path: join(dir, 'kv') });
    const telemetry = createTelemetry({ level: 'silent', defaultMetrics: false });
    const watermarks = createAppliedWatermarks({ kv, partitions: 8 });
    const query = createQueryService({ kv, cache: createLruCache({ maxEntries: 10_000 }), watermarks, limits: DEFAULT_LIMITS, consistencyTimeoutMs: 5000, telemetry });
    const rawDb = open<Buffer, string>({ path: join(dir, 'raw.mdb'), encoding: 'binary', compression: false });
    const rawLru = new LRUCache({ max: 10_000 });
    try {
      const ids: string[] = [];
      const states = inputs.map((input, i) => {
        const event = { ...input, tenant: 'bench', actor: input.metadata.agentId, hlc: hlcFromWallMs(Date.now() + i), metadata: { ...input.metadata, attributes: {} } } as MemoryEvent;
        ids.push(encodeEntityId(event));
        return Buffer.from(JSON.stringify(applyEvent(undefined, event, { partition: 0, offset: i }).state));
      });
      await kv.batch(states.map((value, i) => ({ type: 'put', key: stateKey(ids[i]!), value })));
      await rawDb.transaction(() => states.forEach((value, i) => void rawDb.put(ids[i]!, value)));
      states.forEach((value, i) => rawLru.set(ids[i]!, value));
      for (const input of inputs) await query.get('bench', namespace, input.key); // fills the L1 cache

      const keys = keySequence(inProcessOps);
      const m: Metrics = {};
      const time = async (name: string, op: (i: number) => unknown): Promise<void> => {
        await timeEach(Math.min(inProcessOps, 10_000), op); // warm-up (JIT)
        const { latenciesMs, totalMs } = await timeEach(inProcessOps, op);
        m[`${name}.p50Us`] = percentile(latenciesMs, 50) * 1000;
        m[`${name}.p99Us`] = percentile(latenciesMs, 99) * 1000;
        m[`${name}.perS`] = (inProcessOps * 1000) / totalMs;
      };
      await time('queryGet', (i) => query.get('bench', namespace, inputs[keys[i]!]!.key));
      await time('rawLmdbGet', (i) => rawDb.get(ids[keys[i]!]!));
      await time('rawLruGet', (i) => rawLru.get(ids[keys[i]!]!));
      await time('rawLruParse', (i) => JSON.parse(rawLru.get(ids[keys[i]!]!)!.toString('utf8')));
      return m;
    } finally {
      watermarks.close();
      await kv.close();
      await rawDb.close();
    }
  });
}

const results = await repeat({ label: 'read', runs: args.runs }, async (run) => ({ ...(await httpRun(run)), ...(await inProcessRun()) }));

const med = results.median;
printComparison(`GET by key over HTTP, open loop ${rate}/s for ${seconds} s (medians of ${args.runs} runs; ms)`, med, [
  { label: 'p50 from scheduled start (ms)', ours: 'engram.open.p50Ms', raw: 'raw.open.p50Ms' },
  { label: 'p99 from scheduled start (ms)', ours: 'engram.open.p99Ms', raw: 'raw.open.p99Ms' },
  { label: 'p50 from actual send (ms)', ours: 'engram.open.serviceP50Ms', raw: 'raw.open.serviceP50Ms' },
  { label: 'p99 from actual send (ms)', ours: 'engram.open.serviceP99Ms', raw: 'raw.open.serviceP99Ms' },
], { ours: 'Engram', raw: 'node:http + LMDB' });
printComparison(`GET by key over HTTP, closed loop, ${connections} connections (medians of ${args.runs} runs)`, med, [
  { label: 'max sustained GET/s', ours: 'engram.closed.perS', raw: 'raw.closed.perS' },
  { label: 'server CPU per GET (µs)', ours: 'engram.closed.serverCpuUsPerGet', raw: 'raw.closed.serverCpuUsPerGet' },
  { label: 'p50 latency (ms)', ours: 'engram.closed.p50Ms', raw: 'raw.closed.p50Ms' },
  { label: 'p99 latency (ms)', ours: 'engram.closed.p99Ms', raw: 'raw.closed.p99Ms' },
], { ours: 'Engram', raw: 'node:http + LMDB' });
for (const raw of [['rawLruGet', 'raw LRUCache.get'], ['rawLruParse', 'raw LRU get + JSON.parse'], ['rawLmdbGet', 'raw lmdb get']] as const) {
  printComparison(`In-process cache hit: query.get() vs ${raw[1]} (medians of ${args.runs} runs; µs)`, med, [
    { label: 'p50 (µs)', ours: 'queryGet.p50Us', raw: `${raw[0]}.p50Us` },
    { label: 'p99 (µs)', ours: 'queryGet.p99Us', raw: `${raw[0]}.p99Us` },
    { label: 'gets/s', ours: 'queryGet.perS', raw: `${raw[0]}.perS` },
  ], { ours: 'query.get()', raw: raw[1] });
}
printJsonLine({ bench: 'read', machine, params: { memories, rate, seconds, connections, closedSeconds, inProcessOps, runs: args.runs }, results });
