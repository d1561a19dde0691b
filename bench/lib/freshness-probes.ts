/**
 * POST → visible, measured as bench/freshness.bench.ts does, on a server that is already running
 * (the Kafka benchmark reuses its `engram start`), with a GET probe beside the two searches:
 *
 * - {@link measureCapacity}: text events POSTed 8 batches of 100 at a time, timed from the first
 *   POST until the KV projection (a GET passing the merged token), then the vector index (a vector
 *   search passing it) covers them;
 * - {@link measureFreshness}: both, the probes alone and under a load (with an optional stage
 *   observed elsewhere, such as arrival in a Kafka topic);
 * - {@link probeVisibility}: an optional open-loop background load of text events in POSTs of 10,
 *   and `probesPerS` probes a second: t0, POST one text event, then in parallel a GET of its key, a
 *   keyword and a vector search for its text (k = 1), each passing the POST's token and repeated
 *   until it returns the event (a repeat counts as a miss); latency = the answer that had it - t0.
 */
import { mergeTokens, postEvents, waitForToken } from './engram-server.js';
import { openLoop, runConcurrently, type HttpClient } from './http-load.js';
import { eventBodies, memoryEvent, type EventInput } from './memory-events.js';
import type { Metrics } from './runner.js';
import { waitUntilIdle } from './proc-cpu.js';
import { percentile } from './stats.js';
import { nowMs } from './timer.js';

export const PROBE_READS = ['get', 'keyword', 'vector'] as const;
type ProbeRead = (typeof PROBE_READS)[number];

const BACKGROUND_BATCH = 10;
const MAX_MISSES = 1000;

interface SearchReply {
  results: Array<{ key: string }>;
}

/** Text events per second until applied to KV and until indexed; `tag` keeps keys unique per run. */
export async function measureCapacity(client: HttpClient, options: { namespace: string; tag: string; events: number }): Promise<{ appliedPerS: number; indexedPerS: number }> {
  const bodies = eventBodies(0, options.events, 100, { namespace: options.namespace, tag: options.tag, withText: true });
  const start = nowMs();
  const tokens = await runConcurrently(bodies.length, 8, async (i) => (await postEvents(client, bodies[i]!)).token);
  const token = mergeTokens(tokens);
  await waitForToken(client, token, { namespace: options.namespace, key: 'none' });
  const appliedPerS = (options.events * 1000) / (nowMs() - start);
  await waitForToken(client, token, { namespace: options.namespace, key: 'none', vectors: true });
  return { appliedPerS, indexedPerS: (options.events * 1000) / (nowMs() - start) };
}

/** Reads until `event` is returned; resolves with the number of answers that did not have it. */
async function readUntilFound(client: HttpClient, read: ProbeRead, event: EventInput, token: string): Promise<number> {
  for (let misses = 0; misses <= MAX_MISSES; misses++) {
    if (read === 'get') {
      const reply = await client.request('GET', `/v1/memories/${encodeURIComponent(event.namespace)}/${encodeURIComponent(event.key)}?consistentWith=${token}`);
      if (reply.status === 200) return misses;
      if (reply.status !== 404) throw new Error(`GET probe: ${reply.status} ${reply.body.slice(0, 300)}`);
    } else {
      const reply = await client.json<SearchReply>('POST', '/v1/search', { query: event.text, mode: read, k: 1, consistentWith: token });
      if (reply.results[0]?.key === event.key) return misses;
    }
  }
  throw new Error(`${read} never returned ${event.key}`);
}

export interface ProbeOptions {
  namespace: string;
  /** Unique per call (run and phase): keys and event ids of probes and background events. */
  tag: string;
  /** Background text events per second; 0 for probes alone. */
  backgroundPerS: number;
  seconds: number;
  probesPerS: number;
  /** Called with each probe's event id and t0, to time stages observed elsewhere (a topic). */
  onProbe?: (eventId: string, t0: number) => void;
}

/**
 * Probes as described above. Metrics: `achievedPerS` and `postP99Ms` of the background (when there
 * is one), `post.p50Ms` / `post.p99Ms` of the probes' POSTs (202: durable in the log), and per read `<read>.p50Ms`, `.p99Ms`, `.maxMs`, `.p50SecondHalfMs` (a backlog that grows
 * during the run shows as a higher median there), `.misses`, `.samples`.
 */
export async function probeVisibility(client: HttpClient, options: ProbeOptions): Promise<Metrics> {
  const { namespace, tag, seconds, probesPerS } = options;
  const latencies = Object.fromEntries(PROBE_READS.map((r) => [r, [] as number[]])) as Record<ProbeRead, number[]>;
  const late = Object.fromEntries(PROBE_READS.map((r) => [r, [] as number[]])) as Record<ProbeRead, number[]>;
  const misses = Object.fromEntries(PROBE_READS.map((r) => [r, 0])) as Record<ProbeRead, number>;
  const firstLate = Math.floor((probesPerS * seconds) / 2);
  const posts: number[] = [];
  const probe = async (i: number): Promise<void> => {
    const event = memoryEvent(i, { namespace, tag: `${tag}p`, withText: true });
    const t0 = nowMs();
    options.onProbe?.(event.eventId, t0);
    const { token } = await postEvents(client, JSON.stringify({ events: [event] }));
    posts.push(nowMs() - t0);
    await Promise.all(
      PROBE_READS.map(async (read) => {
        misses[read] += await readUntilFound(client, read, event, token);
        const ms = nowMs() - t0;
        latencies[read].push(ms);
        if (i >= firstLate) late[read].push(ms);
      }),
    );
  };
  const batchesPerS = options.backgroundPerS / BACKGROUND_BATCH;
  const bodies = batchesPerS > 0 ? eventBodies(0, Math.ceil(batchesPerS * seconds + 1) * BACKGROUND_BATCH, BACKGROUND_BATCH, { namespace, tag: `${tag}b`, withText: true }) : [];
  const [probes, background] = await Promise.all([
    openLoop(probesPerS, seconds * 1000, probe),
    batchesPerS > 0 ? openLoop(batchesPerS, seconds * 1000, (i) => postEvents(client, bodies[i]!).then(() => undefined)) : undefined,
  ]);
  if (probes.errors > 0 || (background?.errors ?? 0) > 0) throw new Error(`freshness: ${probes.errors} probes and ${background?.errors ?? 0} background POSTs failed`);
  const m: Metrics = {};
  if (background !== undefined) {
    m.achievedPerS = background.perSecond * BACKGROUND_BATCH;
    m.postP99Ms = percentile(background.latenciesMs, 99);
  }
  m['post.p50Ms'] = percentile(posts, 50);
  m['post.p99Ms'] = percentile(posts, 99);
  for (const read of PROBE_READS) {
    m[`${read}.p50Ms`] = percentile(latencies[read], 50);
    m[`${read}.p99Ms`] = percentile(latencies[read], 99);
    m[`${read}.maxMs`] = percentile(latencies[read], 100);
    m[`${read}.p50SecondHalfMs`] = percentile(late[read], 50);
    m[`${read}.misses`] = misses[read];
    m[`${read}.samples`] = latencies[read].length;
  }
  return m;
}

export interface FreshnessOptions {
  namespace: string;
  /** Unique per run and server: keys and event ids. */
  tag: string;
  capacityEvents: number;
  /** Probes alone, then probes under the background load (a phase of 0 s is skipped). */
  idleSeconds: number;
  seconds: number;
  /** Background load as a fraction of the indexing capacity. */
  fraction: number;
  /** Background text events per second instead of `fraction` × the capacity (A/B runs of settings that move the capacity). */
  fixedLoad?: number;
  probesPerS: number;
  /** The log record key of an event id, to look probes up in `arrivals`. */
  recordKey?: (eventId: string) => string;
}

/**
 * The whole freshness measurement on a running server: {@link measureCapacity}, then
 * {@link probeVisibility} alone (`idle.*`) and under `fraction` × the indexed capacity (`load.*`).
 * Before the capacity and the probes-only phase the server is left to finish its background work
 * (under 10% of a core for a second, `idle.settleMs`). With `arrivals` (record key → when it was
 * seen downstream, e.g. in `memory-enriched`), that stage is reported too (`<phase>.enriched.*`).
 */
export async function measureFreshness(client: HttpClient, cpuMs: () => number, options: FreshnessOptions, arrivals?: Map<string, number>): Promise<Metrics> {
  const m: Metrics = {};
  await waitUntilIdle(cpuMs);
  const capacity = await measureCapacity(client, { namespace: options.namespace, tag: `${options.tag}c`, events: options.capacityEvents });
  m['capacity.appliedPerS'] = capacity.appliedPerS;
  m['capacity.indexedPerS'] = capacity.indexedPerS;
  const load = options.fixedLoad ?? capacity.indexedPerS * options.fraction;
  m['load.offeredPerS'] = load;
  m['idle.settleMs'] = await waitUntilIdle(cpuMs);
  const phases = [['idle', 0, options.idleSeconds], ['load', load, options.seconds]] as const;
  const recordKey = options.recordKey ?? ((id: string) => id);
  for (const [phase, backgroundPerS, seconds] of phases) {
    if (seconds === 0) continue;
    const posted = new Map<string, number>();
    const probeOptions = { namespace: options.namespace, tag: `${options.tag}${phase}`, backgroundPerS, seconds, probesPerS: options.probesPerS, onProbe: (id: string, t0: number) => posted.set(recordKey(id), t0) };
    Object.assign(m, prefixed(phase, await probeVisibility(client, probeOptions)));
    if (arrivals !== undefined) {
      const stage = [...posted].flatMap(([key, t0]) => (arrivals.has(key) ? [arrivals.get(key)! - t0] : []));
      Object.assign(m, prefixed(phase, { 'enriched.p50Ms': percentile(stage, 50), 'enriched.p99Ms': percentile(stage, 99), 'enriched.samples': stage.length }));
    }
  }
  return m;
}

/** `metrics` with every key prefixed by `prefix.`. */
export function prefixed(prefix: string, metrics: Metrics): Metrics {
  return Object.fromEntries(Object.entries(metrics).map(([k, v]) => [`${prefix}.${k}`, v]));
}
