/**
 * Load generation over HTTP for the pipeline benchmarks: a small keep-alive client on `node:http`
 * (cheaper per request than `fetch`, which matters when the load generator shares two cores with
 * the server) and three ways to drive it:
 *
 * - {@link runConcurrently}: a fixed list of operations with at most N in flight (ingest batches);
 * - {@link closedLoop}: N workers each sending the next request as soon as the last one answered
 *   (the maximum sustainable rate);
 * - {@link openLoop}: requests started on a fixed schedule whatever the answers do. Latency is
 *   measured from each request's *scheduled* start, so a stalled server or a late client timer
 *   shows up as latency instead of silently lowering the rate (no coordinated omission); the time
 *   from the actual start is kept too (`serviceMs`), because a Node timer fires up to ~1 ms late
 *   and on a busy machine that lateness is the client's, not the server's.
 */
import http from 'node:http';
import { nowMs } from './timer.js';

export interface HttpReply {
  status: number;
  body: string;
}

export interface HttpClient {
  request(method: string, path: string, body?: string | Buffer): Promise<HttpReply>;
  /** `request`, then JSON.parse of the body; throws on a status other than `expect`. */
  json<T>(method: string, path: string, body?: unknown, expect?: number): Promise<T>;
  close(): void;
}

export interface HttpClientOptions {
  /** Sent as `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** Sockets kept open to the server (requests beyond this queue in the agent). @default 64 */
  maxSockets?: number;
}

export function createHttpClient(baseUrl: string, options: HttpClientOptions = {}): HttpClient {
  const url = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 64 });
  const auth = options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` };

  const request = (method: string, path: string, body?: string | Buffer): Promise<HttpReply> =>
    new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { ...auth };
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const req = http.request({ host: url.hostname, port: url.port, method, path, agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });

  return {
    request,
    async json<T>(method: string, path: string, body?: unknown, expect = 200): Promise<T> {
      const reply = await request(method, path, body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
      if (reply.status !== expect) throw new Error(`${method} ${path}: expected ${expect}, got ${reply.status}: ${reply.body.slice(0, 500)}`);
      return JSON.parse(reply.body) as T;
    },
    close: () => agent.destroy(),
  };
}

/** Runs `op(0..count-1)` with at most `concurrency` in flight; resolves with the results in order. */
export async function runConcurrently<T>(count: number, concurrency: number, op: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      results[i] = await op(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

export interface LoadResult {
  /** One latency per completed operation, in ms. */
  latenciesMs: number[];
  /** Completed operations per second over the whole run. */
  perSecond: number;
  /** Operations that threw or were rejected by `op` (not in `latenciesMs`). */
  errors: number;
  /** Open loop only: latency from the moment the operation actually started, in ms. */
  serviceMs?: number[];
}

/** `connections` workers, each starting `op` again as soon as the previous one finished, for `durationMs`. */
export async function closedLoop(connections: number, durationMs: number, op: (i: number) => Promise<void>): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  let errors = 0;
  let next = 0;
  const start = nowMs();
  const end = start + durationMs;
  const worker = async (): Promise<void> => {
    while (nowMs() < end) {
      const t0 = nowMs();
      try {
        await op(next++);
        latenciesMs.push(nowMs() - t0);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  return { latenciesMs, perSecond: (latenciesMs.length * 1000) / (nowMs() - start), errors };
}

/**
 * Starts `op(i)` at `start + i / ratePerS` for `durationMs`, not waiting for earlier ones, and waits
 * for all to finish. A timer can only fire on a millisecond boundary and after the event loop is
 * free, so each tick starts every operation whose time has come.
 */
export async function openLoop(ratePerS: number, durationMs: number, op: (i: number) => Promise<void>): Promise<LoadResult> {
  const total = Math.max(1, Math.floor((ratePerS * durationMs) / 1000));
  const intervalMs = 1000 / ratePerS;
  const latenciesMs: number[] = [];
  const serviceMs: number[] = [];
  const pending: Array<Promise<void>> = [];
  let errors = 0;
  const start = nowMs();
  let started = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = nowMs();
      while (started < total && start + started * intervalMs <= now) {
        const scheduled = start + started * intervalMs;
        const actual = nowMs();
        pending.push(
          op(started).then(
            () => {
              const done = nowMs();
              latenciesMs.push(done - scheduled);
              serviceMs.push(done - actual);
            },
            () => void errors++,
          ),
        );
        started++;
      }
      if (started >= total) resolve();
      else setTimeout(tick, Math.max(0, start + started * intervalMs - nowMs()));
    };
    tick();
  });
  await Promise.all(pending);
  return { latenciesMs, serviceMs, perSecond: (latenciesMs.length * 1000) / (nowMs() - start), errors };
}
