/**
 * A follower is a consumer of `memory-enriched` that acts on entity state *after* the KV projection
 * has folded it: it waits until the KV watermark covers its batch, reads the current state (and stored
 * embeddings) of every entity the batch touched, and hands them on. The vector indexer and the
 * changelog emitter are followers. Because they read the current state, a follower that lags sees the
 * newest version (never an older one), and redelivery is harmless when its effects are version-guarded
 * or idempotent.
 */
import type { MemoryState } from '@engram/core';
import type { KvStore, StoredRecord } from '@engram/ports';
import type { PipelineCodecs } from '../codecs.js';
import { embeddingKey, json, parseJson, stateKey } from '../kv-keys.js';
import { stateMemoFor } from '../query/state-memo.js';
import type { AppliedWatermarks, Watermark } from './applied-watermarks.js';
import { summarizeRecord, type HandedOn, type RecordHandoff, type RecordSummary } from './record-handoff.js';
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
  /** This follower's progress, advanced after each batch. */
  watermarks: AppliedWatermarks;
  /** Where the follower stores its progress, per partition, to skip redelivered records after a restart. */
  keyFor?: (partition: number) => string;
  /**
   * Instead of `keyFor`, for a follower whose effects do not outlive the process (an in-memory
   * index rebuilt at start): its progress, kept in this map and never stored; the caller fills it
   * with what the rebuild covers.
   */
  marks?: Map<number, Watermark>;
  /** @default true — also load `v|` embeddings. */
  withEmbeddings?: boolean;
  /**
   * Which records concern this follower: an entity none of whose records in a batch does is neither
   * read nor handed on (its records still count towards the watermark). @default every record
   */
  concerns?: (summary: RecordSummary) => boolean;
  /**
   * What an in-process projector decoded (record-handoff.ts), so the follower decodes only what it
   * does not find there. @default none: every record is decoded here
   */
  handoff?: RecordHandoff;
  /**
   * How long to wait for an in-process projector that has not yet reached the batch, before
   * decoding the records here. @default 1000
   */
  handoffWaitMs?: number;
  handle: (entities: FollowedEntity[]) => Promise<void>;
}

export function createFollowerBatch(options: FollowerOptions): (records: StoredRecord[]) => Promise<void> {
  const { kv, codecs, handoff, keyFor, marks: kept } = options;
  if ((keyFor === undefined) === (kept === undefined)) throw new Error('a follower keeps its progress under keyFor or in marks: exactly one of them');
  const memo = stateMemoFor(kv);
  const handoffWaitMs = options.handoffWaitMs ?? 1000;

  /** The summary of each fresh record: from the hand-off when the projector has published it, else decoded here. */
  async function summarize(fresh: StoredRecord[]): Promise<HandedOn[]> {
    if (handoff !== undefined) {
      const last = new Map<number, number>();
      for (const r of fresh) last.set(r.partition, Math.max(r.offset, last.get(r.partition) ?? -1));
      for (const [partition, offset] of last) await handoff.waitPassed(partition, offset, handoffWaitMs);
    }
    const out: HandedOn[] = [];
    for (const record of fresh) {
      const known = handoff?.get(record.partition, record.offset);
      if (known !== undefined) {
        out.push(known);
        continue;
      }
      // Only now is the value read (followers consume with lazyValues): a tombstone concerns nobody.
      if (record.value === null) {
        out.push(null);
        continue;
      }
      // A record the projection could not decode was dead-lettered there; here it is simply skipped.
      const enriched = await codecs.enriched.decode(record.value).catch(() => undefined);
      out.push(enriched ? summarizeRecord(enriched) : null);
    }
    return out;
  }

  return async (records) => {
    // Start from this follower's watermarks: a redelivered record at or below them is skipped.
    const partitions = [...new Set(records.map((r) => r.partition))];
    const marks = new Map<number, Watermark>();
    const stored = keyFor ? await kv.getMany(partitions.map(keyFor)) : [];
    partitions.forEach((p, i) => {
      const buf = stored[i];
      marks.set(p, buf ? parseJson<Watermark>(buf) : { ...(kept?.get(p) ?? { enrichedOffset: -1, sourceOffset: -1 }) });
    });
    const fresh: StoredRecord[] = [];
    for (const record of records) {
      const mark = marks.get(record.partition)!;
      if (record.offset <= mark.enrichedOffset) continue;
      mark.enrichedOffset = record.offset;
      fresh.push(record);
    }
    const summaries = await summarize(fresh);
    const entities = new Map<string, { partition: number; deleted: boolean; firstOffset: number }>();
    fresh.forEach((record, i) => {
      const summary = summaries[i];
      if (!summary) return;
      const mark = marks.get(record.partition)!;
      mark.sourceOffset = Math.max(mark.sourceOffset, summary.sourceOffset);
      if (options.concerns !== undefined && !options.concerns(summary)) return;
      const seen = entities.get(summary.entityId) ?? { partition: record.partition, deleted: false, firstOffset: record.offset };
      seen.deleted ||= summary.deleted;
      entities.set(summary.entityId, seen);
    });

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
        state: states[i] ? memo.parse(entityId, states[i]!).state : undefined,
        embeddings: embeddings[i] ? parseJson<StoredEmbeddings>(embeddings[i]!) : undefined,
        deletedInBatch: entities.get(entityId)!.deleted,
        firstOffset: entities.get(entityId)!.firstOffset,
      })),
    );

    // The batch's effects are durable once `handle` returns, so readers waiting on this follower go
    // now; the stored watermark only spares a restart the redelivered records (which `handle` takes
    // again harmlessly), so its commit, queued behind the projection's, need not delay them.
    for (const [p, m] of marks) if (m.sourceOffset >= 0) options.watermarks.advance(p, m.sourceOffset);
    if (keyFor) await kv.batch([...marks].map(([p, m]) => ({ type: 'put' as const, key: keyFor(p), value: json(m) })));
    else for (const [p, m] of marks) kept!.set(p, m);
  };
}
