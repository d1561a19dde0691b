/**
 * Runs the KV projection and the changelog emitter in a worker thread (ENGRAM_PROJECTION_THREAD=on,
 * embedded log and KV). On one machine every stage of the pipeline used to share the main thread,
 * so Engram used one core of two; the projection is the largest share of the per-event work and
 * needs nothing of the main thread but its cache and its watermark waiters, which this module
 * feeds from the thread's messages (protocol and ordering in projection-thread-protocol.ts).
 *
 * Cross-thread effects, and why each stays correct:
 * - log appends wake consumers in the other thread at once (lmdb-event-log.ts's BroadcastChannel);
 * - KV writes are LMDB transactions, visible to every thread once committed; lmdb-js may serve a
 *   thread's reads from one snapshot until its next timer turn, so the snapshot is refreshed before
 *   anything the thread reports is acted on;
 * - a batch's cache entries are applied here before its watermarks advance, so a reader woken by
 *   a watermark finds the new state; entries are version-guarded, so an older read-through set
 *   racing with them cannot win;
 * - the thread's metrics are summed into /metrics at each scrape.
 */
import { Worker } from 'node:worker_threads';
import type { EngramConfig } from '@engram/config';
import { EngramError, errorFromWire } from '@engram/core';
import type { AppliedWatermarks, MetricsSource, RecordHandoff, Signal, Telemetry } from '@engram/pipeline';
import type { Cache, EventLog, KvStore } from '@engram/ports';

import { unpackEntries, type MainToThread, type ProjectionThreadData, type ThreadToMain } from './projection-thread-protocol.js';

const ENTRY = new URL('./projection-thread-worker.mjs', import.meta.url);

export interface ProjectionThread {
  /** Rejects if the thread's loops crash or the thread dies. */
  crashed: Promise<never>;
  metrics: MetricsSource;
  stop(): Promise<void>;
}

export interface ProjectionThreadDeps {
  kv: KvStore;
  log: EventLog;
  cache: Cache;
  watermarks: AppliedWatermarks;
  stateAppended: Signal;
  /** The main thread's hand-off on `memory-enriched`, fed with the projector's summaries. */
  handoff: RecordHandoff;
  telemetry: Telemetry;
}

/** Starts the thread and resolves once its loops run (or rejects with the reason they could not start). */
export async function startProjectionThread(config: EngramConfig, deps: ProjectionThreadDeps): Promise<ProjectionThread> {
  const data: ProjectionThreadData = { config };
  // No execArgv: the main thread's flags (`--import tsx` above all) only slow a Node 20 worker down.
  const worker = new Worker(ENTRY, { workerData: data, execArgv: [] });
  const post = (message: MainToThread) => worker.postMessage(message);

  let fail: (error: Error) => void = () => undefined;
  const crashed = new Promise<never>((_, reject) => (fail = reject));
  crashed.catch(() => undefined);
  let started: { resolve: () => void; reject: (error: Error) => void } | undefined;
  const ready = new Promise<void>((resolve, reject) => (started = { resolve, reject }));
  let stopped: (() => void) | undefined;
  let stopping = false;
  let exited = false;
  const metricRequests = new Map<number, (metrics: Awaited<ReturnType<MetricsSource>>) => void>();
  let nextId = 0;

  // Messages are handled one after another: a batch's cache entries land before its watermarks.
  let tail = Promise.resolve();
  const handle = async (message: ThreadToMain): Promise<void> => {
    switch (message.type) {
      case 'ready':
        return started?.resolve();
      case 'failed':
        return started?.reject(errorFromWire(message.error));
      case 'applied':
        if (message.entries) await Promise.all(unpackEntries(message.entries).map(({ key, value, version }) => deps.cache.set(key, { value, version })));
        // Whoever the watermark wakes reads KV next, and must see the batch.
        deps.kv.refreshSnapshot?.();
        for (const [partition, offset] of message.marks) deps.watermarks.advance(partition, offset);
        return;
      case 'handoff':
        return deps.handoff.publish(new Map(message.passed), message.summaries);
      case 'cache-delete':
        return deps.cache.delete(message.keys);
      case 'state-appended':
        deps.log.refreshSnapshot?.();
        return deps.stateAppended.notify();
      case 'metrics':
        return metricRequests.get(message.id)?.(message.metrics);
      case 'crashed':
        return fail(errorFromWire(message.error));
      case 'stopped':
        return stopped?.();
    }
  };
  worker.on('message', (message: ThreadToMain) => {
    tail = tail.then(() => handle(message)).catch((error) => deps.telemetry.logger.error({ err: error }, 'projection thread message failed'));
  });
  worker.on('error', (error) => {
    started?.reject(error);
    fail(error);
  });
  worker.on('exit', (code) => {
    exited = true;
    const error = new EngramError('projection_thread_exited', `the projection thread exited (code ${code})`);
    started?.reject(error);
    if (!stopping) fail(error);
    stopped?.();
  });

  try {
    await ready;
  } catch (error) {
    await worker.terminate();
    throw error;
  }
  started = undefined;

  return {
    crashed,
    // A scrape never hangs on the thread: without an answer within a second, its metrics are left out.
    metrics: () =>
      new Promise((resolve) => {
        if (stopping) return resolve([]);
        const id = nextId++;
        const timer = setTimeout(() => metricRequests.get(id)?.([]), 1000);
        metricRequests.set(id, (metrics) => {
          clearTimeout(timer);
          metricRequests.delete(id);
          resolve(metrics);
        });
        post({ type: 'metrics', id });
      }),
    async stop() {
      if (stopping) return;
      stopping = true;
      // A thread that already died (its crash was reported) has nothing left to stop.
      if (!exited) {
        await new Promise<void>((resolve) => {
          stopped = resolve;
          post({ type: 'stop' });
        });
      }
      await tail;
      await worker.terminate();
    },
  };
}
