/** The projection worker: a consumer group on `memory-enriched` feeding the projector. */
import type { LogConsumer } from '@engram/ports';
import { WATERMARKED_COMMIT_EVERY_MS, startConsumerLoop, type ConsumerLoop } from '../consumer-loop.js';
import { createProjector, type ProjectorDeps } from './projector.js';

export interface ProjectionWorkerOptions extends ProjectorDeps {
  /** @default 'engram-projection' */
  group?: string;
  /** Records per KV batch; smaller batches keep the event loop free for requests (ENGRAM_PROJECTION_BATCH_MAX). @default 500 */
  maxBatch?: number;
}

export function startProjectionWorker(options: ProjectionWorkerOptions): ConsumerLoop {
  const consumer: LogConsumer = options.log.consumer({ group: options.group ?? 'engram-projection', topic: options.topics.enriched });
  const projector = createProjector(options);
  return startConsumerLoop({
    name: 'projection',
    consumer,
    handle: async (records) => {
      await projector.project(records);
    },
    deadLetters: options.deadLetters,
    telemetry: options.telemetry,
    maxRecords: options.maxBatch ?? 500,
    commitEveryMs: WATERMARKED_COMMIT_EVERY_MS,
  });
}
