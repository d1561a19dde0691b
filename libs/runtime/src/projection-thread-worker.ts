/**
 * The projection thread of `engram start` (see projection-thread.ts): it opens its own handles on
 * the data directory's log, registry and KV (LMDB environments are shared by the threads of a
 * process) and runs the KV projection and the changelog emitter, the pipeline's busiest stages,
 * so that they use the second core. What the main thread must learn at once travels on the port:
 * the states a batch stored (for the main thread's cache) together with its watermarks, what the
 * projector decoded (for the vector indexer's hand-off), and the changelog's wake-ups for
 * subscriptions. Started through projection-thread-worker.mjs.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { errorToWire } from '@engram/core';
import {
  createAppliedWatermarks,
  createPipelineCodecs,
  createTelemetry,
  createTopics,
  recordHandoffFor,
  type AppliedWatermarks,
  type Signal,
} from '@engram/pipeline';
import type { Cache } from '@engram/ports';

import { startProjectionStage } from './engram.js';
import { openPorts } from './ports.js';
import { packEntries, type MainToThread, type ProjectionThreadData, type ThreadToMain } from './projection-thread-protocol.js';

const { config } = workerData as ProjectionThreadData;
const port = parentPort as MessagePort;
const send = (message: ThreadToMain, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

/** Entries the projector stored since the last watermark advance; they leave with it. */
let pending: Array<{ key: string; value: Uint8Array; version: number }> = [];

/** The main thread's cache, seen from here: writes go there (in order, with the next watermark); this thread reads none. */
const forwardingCache: Cache = {
  get: async () => undefined,
  async set(key, entry) {
    pending.push({ key, value: entry.value, version: entry.version });
  },
  async delete(keys) {
    send({ type: 'cache-delete', keys });
  },
  close: async () => undefined,
};

const stateAppended: Signal = {
  notify: () => send({ type: 'state-appended' }),
  wait: (timeoutMs) => new Promise((resolve) => setTimeout(resolve, timeoutMs)),
};

/** This thread's watermarks, whose advances are also sent to the main thread, after the batch's cache entries. */
function forwarded(local: AppliedWatermarks): AppliedWatermarks {
  return {
    ...local,
    advance(partition, sourceOffset) {
      local.advance(partition, sourceOffset);
      const entries = pending.length > 0 ? packEntries(pending) : undefined;
      pending = [];
      send({ type: 'applied', entries, marks: [[partition, sourceOffset]] }, entries ? [entries.bytes] : []);
    },
  };
}

async function main(): Promise<void> {
  const telemetry = createTelemetry({ level: config.logLevel, name: 'engram-projection', defaultMetrics: false });
  const ports = await openPorts(config, new Set(['kv']), telemetry.logger);
  const kv = ports.kv!;
  const topics = createTopics({ prefix: config.topicPrefix, partitions: config.partitions, replicationFactor: config.replicationFactor });
  const codecs = await createPipelineCodecs(ports.registry, topics);
  const local = createAppliedWatermarks({ kv, partitions: topics.partitions, follow: 'announced' });
  await local.load();
  const watermarks = forwarded(local);
  recordHandoffFor(ports.log, topics.enriched).onPublish((passed, summaries) => send({ type: 'handoff', passed: [...passed], summaries: [...summaries] }));
  const loops = startProjectionStage({ config, log: ports.log, codecs, topics, telemetry, kv, cache: forwardingCache, watermarks, stateAppended, ownThread: true });
  for (const loop of loops) loop.done.catch((error) => send({ type: 'crashed', error: errorToWire(error) }));

  port.on('message', (message: MainToThread) => {
    if (message.type === 'metrics') {
      void telemetry.metrics.registry.getMetricsAsJSON().then((metrics) => send({ type: 'metrics', id: message.id, metrics }));
      return;
    }
    // 'stop': each loop finishes its batch and commits, then the stores close.
    void (async () => {
      await Promise.all(loops.map((l) => l.stop()));
      watermarks.close();
      await ports.close();
      send({ type: 'stopped' });
      port.close();
    })();
  });
  send({ type: 'ready' });
}

main().catch((error) => send({ type: 'failed', error: errorToWire(error) }));
