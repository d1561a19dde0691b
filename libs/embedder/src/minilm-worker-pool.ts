/**
 * The main thread's handle on the MiniLM inference workers (minilm-worker.ts): each worker owns
 * its own onnxruntime session, and inference runs go to whichever worker is free. Callers take
 * turns, one run each: a search's single text waits behind one run of a large enrichment batch per
 * worker, not behind the whole batch.
 *
 * A worker that dies (out of memory, a bug) must not leave callers waiting: the runs it had not
 * answered fail with a retriable `embedder_unavailable`, the other workers carry on with the queue,
 * and the next run starts a replacement.
 */
import { Worker } from 'node:worker_threads';
import { EngramError, UnavailableError, errorFromWire } from '@engram/core';
import type { MiniLmWorkerConfig, MiniLmWorkerReady, WorkerMessage, WorkerRequest } from './minilm-protocol.js';

const WORKER_ENTRY = new URL('./minilm-worker.mjs', import.meta.url);

/**
 * Runs handed to one worker at a time: the second waits in the worker's own queue, so its session
 * goes straight on to it instead of idling for a message round trip (on busy cores that includes
 * waiting to be scheduled), at the price of one run of imbalance at the end of a call.
 */
const RUNS_PER_WORKER = 2;

/**
 * Node flags for the worker: none of the main thread's. `--import tsx` would cost ~100 ms per start
 * without giving a Node 20 worker a TypeScript loader (the entry registers one itself).
 */
const WORKER_EXEC_ARGV: string[] = [];

export interface MiniLmWorkerPoolOptions {
  /** Number of workers, each with its own session. */
  size: number;
  config: MiniLmWorkerConfig;
  /**
   * One more worker, for lone runs: a call of a single run (a search query's text) goes to it when
   * no worker is busy, so its session can spread the run over several intra-op threads; every other
   * run goes to the `size` workers. Without it, lone runs go to those like any other.
   */
  solo?: MiniLmWorkerConfig;
}

export interface MiniLmWorkerPool {
  /** Starts every worker; resolves once all loaded the model. Fails (and stops them) if one cannot. */
  start(): Promise<MiniLmWorkerReady>;
  /**
   * Queues one caller's inference runs (each a list of texts, run together): per run, a promise of
   * `texts.length × dims` floats.
   */
  submit(runs: string[][]): Array<Promise<Float32Array>>;
  /** Lets the runs already handed to workers finish, fails the queued ones, stops the workers. */
  close(): Promise<void>;
}

interface Job {
  texts: string[];
  /** The job is its caller's only run (it may go to the solo worker). */
  lone: boolean;
  resolve(vectors: Float32Array): void;
  reject(error: unknown): void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  loaded: Promise<MiniLmWorkerReady>;
  exited: Promise<void>;
  running: Map<number, Job>;
  /** Asked to end: stays referenced until it has, so that close() is awaited to the end. */
  stopping: boolean;
  cause?: unknown;
}

export function createMiniLmWorkerPool(options: MiniLmWorkerPoolOptions): MiniLmWorkerPool {
  // Slots 0..size-1 are the workers of options.config; the solo worker, if any, is the last one.
  const soloIndex = options.solo === undefined ? -1 : options.size;
  const slots: Array<Slot | undefined> = new Array<Slot | undefined>(options.size + (options.solo === undefined ? 0 : 1)).fill(undefined);
  /** One queue of runs per caller with work left; the head caller goes next, then to the back. */
  const callers: Job[][] = [];
  let closed = false;
  let nextId = 1;

  function spawn(index: number): Slot {
    const config = index === soloIndex ? options.solo : options.config;
    const worker = new Worker(WORKER_ENTRY, { workerData: config, execArgv: WORKER_EXEC_ARGV });
    let onReady: (info: MiniLmWorkerReady) => void = () => undefined;
    let onFailed: (error: unknown) => void = () => undefined;
    const loaded = new Promise<MiniLmWorkerReady>((resolve, reject) => {
      onReady = resolve;
      onFailed = reject;
    });
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    // Loading keeps the process alive (someone awaits it); an idle worker does not.
    const slot: Slot = { worker, ready: false, loaded, exited, running: new Map(), stopping: false };
    slots[index] = slot;
    worker.on('message', (message: WorkerMessage) => {
      switch (message.type) {
        case 'ready':
          slot.ready = true;
          if (!slot.stopping) worker.unref();
          onReady(message.info);
          pump();
          return;
        case 'failed':
          // The worker ends by itself: see stop() for why it is never terminated.
          slot.cause = errorFromWire(message.error);
          onFailed(slot.cause);
          return;
        case 'result':
          settle(slot, message.id)?.resolve(message.vectors);
          pump();
          return;
        case 'error':
          settle(slot, message.id)?.reject(errorFromWire(message.error));
          pump();
      }
    });
    worker.on('error', (error) => {
      slot.cause ??= error;
    });
    worker.on('exit', (code) => {
      if (slots[index] === slot) slots[index] = undefined;
      const reason = slot.cause instanceof Error ? slot.cause.message : `exit code ${code}`;
      const error = new UnavailableError('embedder_unavailable', `a MiniLM inference worker stopped (${reason})`, { cause: slot.cause });
      onFailed(slot.cause ?? error);
      for (const job of slot.running.values()) job.reject(error);
      slot.running.clear();
      // With no worker left to take them, queued runs would wait forever: fail them too, with the
      // reason a replacement could not load (model_load_failed) when that is what happened.
      const queuedError = slot.ready ? error : (slot.cause ?? error);
      if (slots.every((s) => s === undefined)) failQueued(queuedError);
    });
    loaded.catch(() => undefined);
    return slot;
  }

  function settle(slot: Slot, id: number): Job | undefined {
    const job = slot.running.get(id);
    slot.running.delete(id);
    if (slot.running.size === 0 && !slot.stopping) slot.worker.unref();
    return job;
  }

  function failQueued(error: unknown): void {
    for (const job of callers.splice(0).flat()) job.reject(error);
  }

  /**
   * The worker for the next run: the solo worker for a lone run when no worker is busy (its threads
   * then have the cores to themselves; next to busy workers they would only fight them for the
   * cores), else the least busy other one.
   */
  function pick(job: Job): Slot | undefined {
    const solo = soloIndex < 0 ? undefined : slots[soloIndex];
    if (job.lone && solo?.ready === true && slots.every((slot) => slot === undefined || slot.running.size === 0)) return solo;
    let best: Slot | undefined;
    slots.forEach((slot, index) => {
      if (index === soloIndex || slot?.ready !== true || slot.running.size >= RUNS_PER_WORKER) return;
      if (best === undefined || slot.running.size < best.running.size) best = slot;
    });
    // No other worker left at all (they died and are being replaced): the solo one takes anything.
    if (best === undefined && solo?.ready === true && solo.running.size < RUNS_PER_WORKER && slots.every((s, i) => i === soloIndex || s?.ready !== true)) return solo;
    return best;
  }

  /** Hands queued runs to ready workers, callers taking turns. */
  function pump(): void {
    while (callers.length > 0) {
      const best = pick((callers[0] as Job[])[0] as Job);
      if (best === undefined) return;
      const jobs = callers.shift() as Job[];
      const job = jobs.shift() as Job;
      if (jobs.length > 0) callers.push(jobs);
      const request: WorkerRequest = { id: nextId++, op: 'embed', texts: job.texts };
      best.running.set(request.id, job);
      if (best.running.size === 1) best.worker.ref();
      best.worker.postMessage(request);
    }
  }

  /**
   * Asks a worker to end and waits until it did. Never worker.terminate(): stopping a thread inside
   * onnxruntime's native code (loading or running a session) aborts the whole process ("terminate
   * called after throwing an instance of 'Napi::Error'", seen when a test stopped a loading worker).
   * So a loading worker is waited for, and a loaded one finishes its runs, disposes its session and
   * lets its event loop run out.
   */
  async function stop(slot: Slot): Promise<void> {
    slot.stopping = true;
    slot.worker.ref();
    await slot.loaded.catch(() => undefined);
    if (slot.ready) {
      // Queued behind the runs the worker already has, so those finish first.
      slot.worker.postMessage({ id: nextId++, op: 'close' } satisfies WorkerRequest);
    }
    await slot.exited;
  }

  return {
    async start() {
      const started = slots.map((_, index) => spawn(index));
      try {
        const [first] = await Promise.all(started.map((slot) => slot.loaded));
        return first as MiniLmWorkerReady;
      } catch (error) {
        closed = true;
        await Promise.all(started.map(stop));
        throw error;
      }
    },

    submit(runs: string[][]): Array<Promise<Float32Array>> {
      if (closed) return runs.map(() => Promise.reject(new EngramError('embedder_closed', 'the embedder was closed')));
      const jobs: Job[] = [];
      const lone = runs.length === 1;
      const answers = runs.map((texts) => new Promise<Float32Array>((resolve, reject) => jobs.push({ texts, lone, resolve, reject })));
      if (jobs.length === 0) return answers;
      callers.push(jobs);
      slots.forEach((slot, index) => {
        if (slot === undefined) spawn(index);
      });
      pump();
      return answers;
    },

    async close() {
      if (closed) return;
      closed = true;
      failQueued(new EngramError('embedder_closed', 'the embedder was closed'));
      await Promise.all(slots.map((slot) => (slot === undefined ? undefined : stop(slot))));
    },
  };
}
