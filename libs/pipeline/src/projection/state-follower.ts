/**
 * A follower is a consumer of `memory-enriched` that acts on entity state *after* the KV projection
 * has folded it: it waits until the KV watermark covers its batch, reads the current state (and stored
 * embeddings) of every entity the batch touched, and hands them on. The vector indexer and the
 * changelog emitter are followers. Because they read the current state, a follower that lags sees the
 * newest version (never an older one), and redelivery is harmless when its effects are version-guarded
 * or idempotent.
 */
import { encodeEntityId, type MemoryState } from '@engram/core';
import type { KvStore, StoredRecord } from '@engram/ports';
import type { PipelineCodecs } from '../codecs.js';
import { embeddingKey, json, parseJson, stateKey } from '../kv-keys.js';
import type { AppliedWatermarks, Watermark } from './applied-watermarks.js';
import type { StoredEmbeddings } from './vector-updates.js';

export interface FollowedEntity {
  entityId: string;
  partition: number;
  /** Current state in KV (undefined if the batch only held rejected events for a new entity). */
  state: MemoryState | undefined;
  embeddings: StoredEmbeddings | undefined;
  /** The batch held a MemoryDeleted for it (KV may already be past it: a rewrite after the delete). */
  deletedInBatch: boolean;
  /** `memory-enriched` offset of the entity's first record in this batch. */
  firstOffset: number;
}

export interface FollowerOptions {
  kv: KvStore;
  codecs: PipelineCodecs;
  /** The KV projection's progress: a follower never gets ahead of it. */
  kvWatermarks: AppliedWatermarks;
  /** This follower's progress, stored under `keyFor(partition)` and advanced after each batch. */
  watermarks: AppliedWatermarks;
  keyFor: (partition: number) => string;
  /** @default true — also load `v|` embeddings. */
  withEmbeddings?: boolean;
  handle: (entities: FollowedEntity[]) => Promise<void>;
}

export function createFollowerBatch(options: FollowerOptions): (records: StoredRecord[]) => Promise<void> {
  const { kv, codecs } = options;
  return async (records) => {
    // Start from this follower's stored watermarks: a redelivered record at or below them is skipped.
    const marks = new Map<number, Watermark>();
    const partitions = [...new Set(records.map((r) => r.partition))];
    (await kv.getMany(partitions.map(options.keyFor))).forEach((buf, i) => {
      marks.set(partitions[i]!, buf ? parseJson<Watermark>(buf) : { enrichedOffset: -1, sourceOffset: -1 });
    });
    const entities = new Map<string, { partition: number; deleted: boolean; firstOffset: number }>();
    for (const record of records) {
      const mark = marks.get(record.partition)!;
      if (record.offset <= mark.enrichedOffset) continue;
      mark.enrichedOffset = record.offset;
      if (record.value === null) continue;
      // A record the projection could not decode was dead-lettered there; here it is simply skipped.
      const enriched = await codecs.enriched.decode(record.value).catch(() => undefined);
      if (!enriched) continue;
      mark.sourceOffset = Math.max(mark.sourceOffset, enriched.source.offset);
      const id = encodeEntityId(enriched.event);
      const seen = entities.get(id) ?? { partition: record.partition, deleted: false, firstOffset: record.offset };
      seen.deleted ||= enriched.event.type === 'MemoryDeleted';
      entities.set(id, seen);
    }

    // Wait (without a deadline: the projection is our upstream) until KV holds these records' effects.
    const needed = new Map([...marks].filter(([, m]) => m.sourceOffset >= 0).map(([p, m]) => [p, m.sourceOffset]));
    while (!options.kvWatermarks.isApplied(needed)) {
      await options.kvWatermarks.waitFor(needed, 5_000).catch(() => undefined);
    }

    const ids = [...entities.keys()];
    const [states, embeddings] = await Promise.all([
      kv.getMany(ids.map(stateKey)),
      options.withEmbeddings === false ? Promise.resolve(ids.map(() => undefined)) : kv.getMany(ids.map(embeddingKey)),
    ]);
    await options.handle(
      ids.map((entityId, i) => ({
        entityId,
        partition: entities.get(entityId)!.partition,
        state: states[i] ? parseJson<MemoryState>(states[i]!) : undefined,
        embeddings: embeddings[i] ? parseJson<StoredEmbeddings>(embeddings[i]!) : undefined,
        deletedInBatch: entities.get(entityId)!.deleted,
        firstOffset: entities.get(entityId)!.firstOffset,
      })),
    );

    await kv.batch([...marks].map(([p, m]) => ({ type: 'put' as const, key: options.keyFor(p), value: json(m) })));
    for (const [p, m] of marks) if (m.sourceOffset >= 0) options.watermarks.advance(p, m.sourceOffset);
  };
}
