/**
 * The vector indexer: a second consumer group on `memory-enriched` that keeps the vector index in
 * step with the KV projection. For each batch it waits until the KV projection has applied the same
 * records, then upserts the current state (fields, version) and stored embedding of every entity the
 * batch touched. Upserts are version-guarded, so redelivery and reordering are harmless; its own
 * watermark (`vw|<partition>`) tells vector searches how far the index has got.
 *
 * Why separate: HNSW inserts are ~50x slower than the KV batch, so folding them into the projection
 * would cap state and keyword freshness at the index's speed.
 */
import { encodeEntityId, type MemoryState } from '@engram/core';
import type { EventLog, KvStore, LogConsumer, StoredRecord, VectorIndex } from '@engram/ports';
import type { PipelineCodecs } from '../codecs.js';
import { startConsumerLoop, type ConsumerLoop } from '../consumer-loop.js';
import type { DeadLetterSink } from '../dead-letters.js';
import { embeddingKey, json, parseJson, stateKey, vectorWatermarkKey } from '../kv-keys.js';
import type { Telemetry } from '../telemetry.js';
import type { Topics } from '../topics.js';
import type { AppliedWatermarks, Watermark } from './applied-watermarks.js';
import type { VectorCollections } from './vector-collections.js';
import { applyVectorUpdates, type StoredEmbeddings } from './vector-updates.js';

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
  /** @default 2000 */
  maxBatch?: number;
}

export function startVectorIndexer(options: VectorIndexerOptions): ConsumerLoop {
  const consumer: LogConsumer = options.log.consumer({ group: options.group ?? 'engram-vectors', topic: options.topics.enriched });
  return startConsumerLoop({
    name: 'vector-indexer',
    consumer,
    handle: createVectorIndexBatch(options),
    deadLetters: options.deadLetters,
    telemetry: options.telemetry,
    maxRecords: options.maxBatch ?? 2000,
  });
}

export function createVectorIndexBatch(options: VectorIndexerOptions): (records: StoredRecord[]) => Promise<void> {
  const { kv, codecs } = options;
  return async (records) => {
    const marks = new Map<number, Watermark>();
    const entities = new Set<string>();
    for (const record of records) {
      const mark = marks.get(record.partition) ?? { enrichedOffset: -1, sourceOffset: -1 };
      mark.enrichedOffset = Math.max(mark.enrichedOffset, record.offset);
      marks.set(record.partition, mark);
      if (record.value === null) continue;
      // A record the projection could not decode was dead-lettered there; here it is simply skipped.
      const enriched = await codecs.enriched.decode(record.value).catch(() => undefined);
      if (!enriched) continue;
      mark.sourceOffset = Math.max(mark.sourceOffset, enriched.source.offset);
      entities.add(encodeEntityId(enriched.event));
    }

    // Wait (without a deadline: the projection is our upstream) until KV holds these records' effects.
    const needed = new Map([...marks].filter(([, m]) => m.sourceOffset >= 0).map(([p, m]) => [p, m.sourceOffset]));
    while (!options.kvWatermarks.isApplied(needed)) {
      await options.kvWatermarks.waitFor(needed, 5_000).catch(() => undefined);
    }

    const ids = [...entities];
    const [states, embeddings] = await Promise.all([kv.getMany(ids.map(stateKey)), kv.getMany(ids.map(embeddingKey))]);
    await applyVectorUpdates(
      options,
      ids.map((entityId, i) => ({
        entityId,
        after: states[i] ? parseJson<MemoryState>(states[i]!) : undefined,
        embeddings: embeddings[i] ? parseJson<StoredEmbeddings>(embeddings[i]!) : undefined,
      })),
    );
    // Never move a stored watermark backwards (a batch of tombstones carries no source offset).
    const partitions = [...marks.keys()];
    (await kv.getMany(partitions.map(vectorWatermarkKey))).forEach((buf, i) => {
      if (!buf) return;
      const stored = parseJson<Watermark>(buf);
      const mark = marks.get(partitions[i]!)!;
      mark.enrichedOffset = Math.max(mark.enrichedOffset, stored.enrichedOffset);
      mark.sourceOffset = Math.max(mark.sourceOffset, stored.sourceOffset);
    });
    await kv.batch([...marks].map(([p, m]) => ({ type: 'put' as const, key: vectorWatermarkKey(p), value: json(m) })));
    for (const [p, m] of marks) if (m.sourceOffset >= 0) options.vectorWatermarks.advance(p, m.sourceOffset);
  };
}
