/**
 * A MiniLM inference worker: it owns one onnxruntime session (minilm-model.ts) and runs the
 * requests of minilm-worker-pool.ts one after another, so that tokenizing, inference and pooling —
 * all synchronous, CPU-bound work — never block the main thread's event loop.
 * Started through minilm-worker.mjs; speaks minilm-protocol.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { loadMiniLmModel } from './minilm-model.js';
import type { MiniLmModel } from './minilm-model.js';
import { errorToWire } from '@engram/core';
import type { MiniLmWorkerConfig, WorkerMessage, WorkerRequest } from './minilm-protocol.js';

const port = parentPort as MessagePort;

function send(message: WorkerMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

async function handle(model: MiniLmModel, request: WorkerRequest): Promise<void> {
  if (request.op === 'close') {
    await model.dispose().catch(() => undefined);
    // Nothing left to keep the event loop alive: the worker ends (the pool never terminates it).
    port.close();
    return;
  }
  try {
    const vectors = await model.embedRun(request.texts);
    send({ type: 'result', id: request.id, vectors }, [vectors.buffer as ArrayBuffer]);
  } catch (error) {
    send({ type: 'error', id: request.id, error: errorToWire(error) });
  }
}

async function main(): Promise<void> {
  let model: MiniLmModel;
  try {
    model = await loadMiniLmModel(workerData as MiniLmWorkerConfig);
  } catch (error) {
    // Then the worker ends, having nothing to listen to.
    send({ type: 'failed', error: errorToWire(error) });
    return;
  }
  // Requests run strictly in arrival order: the pool keeps a second one queued here so that the
  // session never waits for a message round trip, and runs must not interleave.
  let tail: Promise<void> = Promise.resolve();
  port.on('message', (request: WorkerRequest) => {
    tail = tail.then(() => handle(model, request));
  });
  send({ type: 'ready', info: { version: model.version } });
}

await main();
