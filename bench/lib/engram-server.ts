/**
 * The real server for the pipeline benchmarks: `engram start` as a child process (started by the
 * end-to-end harness of @engram/testing), so the load generator and the server are separate
 * processes as in production. Also what a client needs to know when the pipeline has caught up:
 * merged consistency tokens and the Prometheus counters.
 */
import { randomBytes } from 'node:crypto';
import { engineEnv, removeDataDir, startEngramProcess } from '@engram/testing';
import { decodeToken, encodeToken, type PositionMap } from '@engram/pipeline';
import { createHttpClient, type HttpClient } from './http-load.js';
import { processCpuMs } from './proc-cpu.js';

export const BENCH_TENANT = 'bench';
export const BENCH_KEY = 'bench-key';

export interface BenchServer {
  baseUrl: string;
  dataDir: string;
  /** Keep-alive client authenticated as tenant `bench`. */
  client: HttpClient;
  /** CPU ms the server process has used so far, every thread (see proc-cpu.ts). */
  cpuMs(): number;
}

/**
 * Starts `engram start` on a fresh data directory with one API key (tenant `bench`), runs `fn`, then
 * stops the server and removes the directory. `after` runs once the server has exited and before the
 * directory is removed (to read its stores offline).
 *
 * `BENCH_SERVER_ENV="ENGRAM_X=1,ENGRAM_Y=2"` in the bench's environment adds settings to every server
 * it starts, for A/B runs of one bench (the server does not inherit the bench's ENGRAM_* variables).
 */
export async function withEngramServer<T>(
  options: {
    env?: Record<string, string>;
    maxSockets?: number;
    after?: (dataDir: string) => Promise<void>;
    /** The `engram` command: `start` (every app) or one app such as `ingest-api`. @default 'start' */
    command?: string;
  },
  fn: (server: BenchServer) => Promise<T>,
): Promise<T> {
  const env = {
    ENGRAM_API_KEYS: `${BENCH_TENANT}:${BENCH_KEY}`,
    ENGRAM_LOG_LEVEL: 'info',
    // Benchmarks push the pipeline to saturation on purpose: a reader waiting for a token should
    // measure how long it takes, not give up at the default 5 s.
    ENGRAM_CONSISTENCY_TIMEOUT_MS: '120000',
    ...options.env,
    ...serverEnvFromBenchEnv(),
  };
  const server = await startEngramProcess({ env, timeoutMs: 60_000, ...(options.command === undefined ? {} : { command: options.command }) });
  const client = createHttpClient(server.baseUrl, { apiKey: BENCH_KEY, maxSockets: options.maxSockets ?? 64 });
  try {
    const pid = server.child.pid!;
    const result = await fn({ baseUrl: server.baseUrl, dataDir: server.dataDir, client, cpuMs: () => processCpuMs(pid) });
    client.close();
    const code = await server.stop();
    if (code !== 0) throw new Error(`engram exited with ${code}:\n${server.output.slice(-20).join('\n')}`);
    await options.after?.(server.dataDir);
    return result;
  } finally {
    client.close();
    await server.kill();
    removeDataDir(server.dataDir);
  }
}

export interface KafkaServerEnv {
  /** ENGRAM_* settings that put the server on the shared Kafka broker and schema registry. */
  env: Record<string, string>;
  /** The run's topic prefix (`<prefix>memory-events`, …), to find and delete its topics afterwards. */
  prefix: string;
  brokers: string[];
}

/**
 * Settings for an Engram server on the engines of `npm run engines:up` (read from `.engines/env`):
 * ENGRAM_LOG=kafka, topics under a prefix and a transactional id nobody else uses, so runs and
 * other processes on the same broker never share topics or fence each other's sequencer.
 */
export function kafkaServerEnv(label: string, partitions: number): KafkaServerEnv {
  const engines = engineEnv();
  const brokers = engines.ENGRAM_KAFKA_BROKERS;
  const registry = engines.ENGRAM_SCHEMA_REGISTRY_URL;
  if (brokers === undefined || registry === undefined) throw new Error('ENGRAM_KAFKA_BROKERS / ENGRAM_SCHEMA_REGISTRY_URL unset: run `npm run engines:up` first');
  const run = `bench-${label}-${randomBytes(4).toString('hex')}`;
  return {
    env: {
      ENGRAM_LOG: 'kafka',
      ENGRAM_KAFKA_BROKERS: brokers,
      ENGRAM_SCHEMA_REGISTRY_URL: registry,
      ENGRAM_TOPIC_PREFIX: `${run}-`,
      ENGRAM_KAFKA_TRANSACTIONAL_ID: run,
      ENGRAM_PARTITIONS: String(partitions),
    },
    prefix: `${run}-`,
    brokers: brokers.split(','),
  };
}

/** One token covering all of `tokens`: the highest offset per partition (the documented wire form). */
export function mergeTokens(tokens: Iterable<string>): string {
  const merged: PositionMap = new Map();
  for (const token of tokens) for (const [p, o] of decodeToken(token)) merged.set(p, Math.max(o, merged.get(p) ?? -1));
  return encodeToken(merged);
}

/** Sum of a Prometheus counter's samples whose labels include every `labels` pair. */
export async function scrapeCounter(client: HttpClient, name: string, labels: Record<string, string> = {}): Promise<number> {
  const reply = await client.request('GET', '/metrics');
  let total = 0;
  for (const line of reply.body.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? ([-0-9.e+]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labelText = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) total += Number(m[3]);
  }
  return total;
}

export interface PostReply {
  results: Array<{ status: string; partition: number; offset: number }>;
  token: string;
}

/** POSTs one `{"events": …}` body and checks that every event was accepted. */
export async function postEvents(client: HttpClient, body: string): Promise<PostReply> {
  const reply = await client.request('POST', '/v1/events', body);
  if (reply.status !== 202) throw new Error(`POST /v1/events: ${reply.status} ${reply.body.slice(0, 300)}`);
  const parsed = JSON.parse(reply.body) as PostReply;
  if (parsed.results.some((r) => r.status !== 'accepted')) throw new Error('POST /v1/events: an event was not accepted');
  return parsed;
}

/**
 * Waits until the KV projection has applied `token` (a GET that passes it), or, with `vectors`,
 * until the vector index covers it too (a vector search that passes it). The GET may answer 404
 * (a probe key that does not exist): it still waited for the token first.
 */
export async function waitForToken(client: HttpClient, token: string, probe: { namespace: string; key: string; vectors?: boolean }): Promise<void> {
  const reply = probe.vectors
    ? await client.request('POST', '/v1/search', JSON.stringify({ query: 'probe', mode: 'vector', k: 1, consistentWith: token }))
    : await client.request('GET', `/v1/memories/${encodeURIComponent(probe.namespace)}/${encodeURIComponent(probe.key)}?consistentWith=${token}`);
  if (reply.status !== 200 && !(reply.status === 404 && !probe.vectors)) throw new Error(`waiting for ${token}: ${reply.status} ${reply.body.slice(0, 300)}`);
}

function serverEnvFromBenchEnv(): Record<string, string> {
  const pairs = (process.env.BENCH_SERVER_ENV ?? '').split(',').filter(Boolean);
  return Object.fromEntries(
    pairs.map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 1) throw new Error(`BENCH_SERVER_ENV: expected NAME=value, got ${pair}`);
      return [pair.slice(0, eq), pair.slice(eq + 1)];
    }),
  );
}
