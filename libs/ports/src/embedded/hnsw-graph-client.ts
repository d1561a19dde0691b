/**
 * The main thread's handle on the graph worker (hnsw-graph-worker.ts): request/response over
 * postMessage, matched by id, in the order they were asked.
 *
 * A worker that dies (an uncaught error, out of memory, a bug) must not leave callers waiting:
 * every request it had not answered fails with a retriable `vector_index_unavailable`. Nothing is
 * lost, as LMDB holds every committed change; the next request starts a new worker, whose first job
 * is to load every collection from LMDB, and waits behind that load.
 */
import { Worker } from 'node:worker_threads';
import type { ResourceLimits, Transferable } from 'node:worker_threads';
import { EngramError, UnavailableError, errorFromWire } from '@engram/core';
import type { GraphRequest, GraphWorkerConfig, LoadedCollection, RequestEnvelope, ResponseEnvelope } from './hnsw-protocol.js';

const WORKER_ENTRY = new URL('./hnsw-graph-worker.mjs', import.meta.url);

/**
 * Node flags for the worker: none of the main thread's. It would inherit them, and the ones seen
 * in practice only hurt: `--import tsx` costs ~100 ms per start without giving a Node 20 worker a
 * TypeScript loader (the entry registers one itself), and a `node --input-type=module --eval` parent
 * passes a flag that stops the worker from loading its entry file at all.
 */
const WORKER_EXEC_ARGV: string[] = [];

export interface GraphClientOptions {
  config: GraphWorkerConfig;
  /** Passed to the Worker; caps its JS heap (hnswlib's graphs are native memory). @default Node's defaults */
  resourceLimits?: ResourceLimits;
}

export interface GraphClient {
  /** Starts the first worker; resolves once it loaded every collection. */
  start(): Promise<LoadedCollection[]>;
  /** Sends a request (starting a worker first if none runs) and resolves with its answer. */
  call<T>(request: GraphRequest, transfer?: Transferable[]): Promise<T>;
  /** False after a worker died and before the next request starts another. */
  readonly running: boolean;
  /** Asks the worker to release its resources, then terminates it. Later calls fail. */
  close(): Promise<void>;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** One worker and the requests it owes answers to. */
interface Connection {
  worker: Worker;
  pending: Map<number, Pending>;
  /** Requests held back until the load finished, so they see every collection. */
  queue: Array<{ envelope: RequestEnvelope; transfer: Transferable[] }>;
  loaded: boolean;
  load: Promise<LoadedCollection[]>;
  /** Why it stopped, when known: an 'error' event or a failed load. */
  cause?: unknown;
}

export function createGraphClient(options: GraphClientOptions): GraphClient {
  let current: Connection | undefined;
  let closed = false;
  let nextId = 1;

  function send(conn: Connection, request: GraphRequest, transfer: Transferable[] = []): Promise<unknown> {
    const envelope: RequestEnvelope = { id: nextId++, request };
    const answer = new Promise<unknown>((resolve, reject) => conn.pending.set(envelope.id, { resolve, reject }));
    // A pending request keeps the process alive; an idle worker does not (neither does LMDB).
    if (conn.pending.size === 1) conn.worker.ref();
    if (!conn.loaded && request.op !== 'load') {
      conn.queue.push({ envelope, transfer });
      return answer;
    }
    post(conn, envelope, transfer);
    return answer;
  }

  function post(conn: Connection, envelope: RequestEnvelope, transfer: Transferable[]): void {
    try {
      conn.worker.postMessage(envelope, transfer);
    } catch (error) {
      settle(conn, envelope.id)?.reject(error); // not cloneable: nothing was sent
    }
  }

  function settle(conn: Connection, id: number): Pending | undefined {
    const entry = conn.pending.get(id);
    conn.pending.delete(id);
    if (conn.pending.size === 0) conn.worker.unref();
    return entry;
  }

  function connect(): Connection {
    const worker = new Worker(WORKER_ENTRY, { workerData: options.config, resourceLimits: options.resourceLimits, execArgv: WORKER_EXEC_ARGV });
    worker.unref();
    const conn: Connection = { worker, pending: new Map(), queue: [], loaded: false, load: Promise.resolve([]) };
    worker.on('message', (response: ResponseEnvelope) => {
      const entry = settle(conn, response.id);
      if (response.ok) entry?.resolve(response.value);
      else entry?.reject(errorFromWire(response.error));
    });
    worker.on('error', (error) => {
      conn.cause ??= error;
    });
    worker.on('exit', (code) => {
      if (current === conn) current = undefined;
      if (conn.pending.size === 0) return;
      const reason = conn.cause instanceof Error ? conn.cause.message : `exit code ${code}`;
      const error = new UnavailableError('vector_index_unavailable', `the vector index's graph worker stopped (${reason})`, { cause: conn.cause });
      for (const entry of conn.pending.values()) entry.reject(error);
      conn.pending.clear();
      conn.queue = [];
    });
    conn.load = send(conn, { op: 'load' }).then(
      (loaded) => {
        conn.loaded = true;
        for (const { envelope, transfer } of conn.queue) post(conn, envelope, transfer);
        conn.queue = [];
        return loaded as LoadedCollection[];
      },
      async (error: unknown) => {
        // A worker that could not load is of no use: stop it, which fails what waited for it.
        conn.cause = error;
        if (current === conn) current = undefined;
        await worker.terminate();
        throw error;
      },
    );
    // start() hands this promise out; a restart's load failure reaches the queued requests instead.
    conn.load.catch(() => undefined);
    return conn;
  }

  return {
    start() {
      current = connect();
      return current.load;
    },

    call<T>(request: GraphRequest, transfer?: Transferable[]): Promise<T> {
      if (closed) return Promise.reject(new EngramError('vector_index_closed', 'the vector index is closed'));
      current ??= connect();
      return send(current, request, transfer) as Promise<T>;
    },

    get running() {
      return current !== undefined;
    },

    async close() {
      if (closed) return;
      closed = true;
      const conn = current;
      current = undefined;
      if (conn === undefined) return;
      // A worker that dies meanwhile has nothing left to release.
      await send(conn, { op: 'close' }).catch(() => undefined);
      await conn.worker.terminate();
    },
  };
}
