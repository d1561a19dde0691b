/**
 * The vector indexer: a follower (state-follower.ts) that keeps the vector index in step with the KV
 * projection: it upserts the current state (fields, version) and stored embedding of every entity a
 * batch touched. Upserts are version-guarded, so redelivery and reordering are harmless; its own
 * watermark (`vw|<partition>`) tells vector searches how far the index has got.
 *
 * Why separate: HNSW inserts are ~50x slower than the KV batch, so folding them into the projection
 * would cap state and keyword freshness at the index's speed.
 */
import type { EventLog, KvStore, LogConsumer, StoredRecord, VectorIndex } from '@engram/ports';
import type { PipelineCodecs } from '../codecs.js';
import { WATERMARKED_COMMIT_EVERY_MS, startConsumerLoop, type ConsumerLoop } from '../consumer-loop.js';
import type { DeadLetterSink } from '../dead-letters.js';
import { vectorWatermarkKey } from '../kv-keys.js';
import type { Telemetry } from '../telemetry.js';
import type { Topics } from '../topics.js';
import type { AppliedWatermarks } from './applied-watermarks.js';
import { recordHandoffFor } from './record-handoff.js';
import { createFollowerBatch } from './state-follower.js';
import type { VectorCollections } from './vector-collections.js';
import { applyVectorUpdates } from './vector-updates.js';

export interface VectorIndexerOptions {
  log: EventLog;
  kv: KvStore;
  vectors: VectorIndex;
  codecs: PipelineCodecs;
  topics: Topics;
  collections: VectorCollections;
  /** The KV projection's progress: the indexer never gets ahead of it. */
  kvWatermarks: AppliedWatermarks;
  /** This indexer's progress, advanced after each batch. */
  vectorWatermarks: AppliedWatermarks;
  deadLetters: DeadLetterSink;
  telemetry: Telemetry;
  /** @default 'engram-vectors' */
  group?: string;
  /** Records per vector index batch (ENGRAM_VECTOR_BATCH_MAX). @default 100 */
  maxBatch?: number;
}

export function startVectorIndexer(options: VectorIndexerOptions): ConsumerLoop {
  const consumer: LogConsumer = options.log.consumer({ group: options.group ?? 'engram-vectors', topic: options.topics.enriched, lazyValues: true });
  return startConsumerLoop({
    name: 'vector-indexer',
    consumer,
    handle: createVectorIndexBatch(options),
    deadLetters: options.deadLetters,
    telemetry: options.telemetry,
    maxRecords: options.maxBatch ?? 100,
    commitEveryMs: WATERMARKED_COMMIT_EVERY_MS,
  });
}

export function createVectorIndexBatch(options: VectorIndexerOptions): (records: StoredRecord[]) => Promise<void> {
  return createFollowerBatch({
    kv: options.kv,
    codecs: options.codecs,
    kvWatermarks: options.kvWatermarks,
    watermarks: options.vectorWatermarks,
    keyFor: vectorWatermarkKey,
    handoff: recordHandoffFor(options.log, options.topics.enriched),
    // An entity that has no vectors and gets none has nothing to upsert or delete.
    concerns: (summary) => summary.vectors,
    handle: async (entities) => {
      const { skippedModelMismatch } = await applyVectorUpdates(
        options,
        entities.map((e) => ({ entityId: e.entityId, after: e.state, embeddings: e.embeddings, deletedBefore: e.deletedInBatch })),
      );
      if (skippedModelMismatch > 0) {
        options.telemetry.metrics.vectorsSkipped.inc({ reason: 'model_mismatch' }, skippedModelMismatch);
        options.telemetry.logger.warn({ skipped: skippedModelMismatch }, 'stored vectors of another model than their collection were not indexed');
      }
    },
  });
}
