/**
 * The projection: folds a batch of `memory-enriched` records into KV state, history, outcomes, the
 * keyword index and the cache. Followers (state-follower.ts) then feed the vector index and the
 * `memory-state` changelog from what it stored.
 *
 * Effectively once (DESIGN.md section 4): consumers read at least once, so a record at or below the
 * partition's applied watermark (stored in the same KV batch as the state it produced) is skipped.
 * Order of effects for one batch, chosen so a crash at any point is repaired by redelivery:
 *   1. ONE atomic KV batch: states, history, outcomes, keyword postings, current embeddings, watermarks,
 *   2. cache (version-guarded) and in-process watermark wake-ups,
 *   3. consumer offsets (the caller commits after this returns).
 * The vector index and the changelog are fed by their own consumers from what is stored here, so the
 * slower HNSW inserts never hold back state, history and keyword search.
 */
import { applyEvent, encodeEntityId, hlcWallMs, type EnrichedEvent, type MemoryState } from '@engram/core';
import type { Cache, EventLog, KvOp, KvStore, StoredRecord } from '@engram/ports';
import type { PipelineCodecs } from '../codecs.js';
import type { DeadLetterSink } from '../dead-letters.js';
import { embeddingKey, expiryKey, historyKey, json, outcomeKey, parseJson, stateKey, watermarkKey } from '../kv-keys.js';
import { planKeywordUpdate, type KeywordChange } from '../search/index.js';
import type { Telemetry } from '../telemetry.js';
import type { Topics } from '../topics.js';
import type { AppliedWatermarks, Watermark } from './applied-watermarks.js';
import { encodeVector, type StoredEmbeddings } from './vector-updates.js';

export interface ProjectorDeps {
  kv: KvStore;
  cache: Cache;
  log: EventLog;
  codecs: PipelineCodecs;
  topics: Topics;
  watermarks: AppliedWatermarks;
  deadLetters: DeadLetterSink;
  telemetry: Telemetry;
}

/** One entity touched by the batch: its state before the batch and after each applied event. */
interface Touched {
  entityId: string;
  partition: number;
  before: MemoryState | undefined;
  after: MemoryState | undefined;
  embeddings: StoredEmbeddings | undefined;
  /** `embeddings` changed in this batch (new vectors, or none after a delete). */
  newEmbeddings: boolean;
}

export interface Projector {
  project(records: StoredRecord[]): Promise<{ applied: number; rejected: number; skipped: number }>;
}

export function createProjector(deps: ProjectorDeps): Projector {
  const { kv, codecs, telemetry } = deps;

  return {
    async project(records) {
      const partitions = [...new Set(records.map((r) => r.partition))];
      const marks = new Map<number, Watermark>();
      (await kv.getMany(partitions.map(watermarkKey))).forEach((buf, i) => {
        marks.set(partitions[i]!, buf ? parseJson<Watermark>(buf) : { enrichedOffset: -1, sourceOffset: -1 });
      });

      // Decode; a poison record goes to the dead-letter topic and still advances the watermark.
      const fresh: Array<{ record: StoredRecord; enriched: EnrichedEvent }> = [];
      let skipped = 0;
      for (const record of records) {
        const mark = marks.get(record.partition)!;
        if (record.offset <= mark.enrichedOffset) {
          skipped++;
          continue;
        }
        mark.enrichedOffset = record.offset;
        if (record.value === null) continue; // archival tombstone: nothing to fold
        try {
          const enriched = await codecs.enriched.decode(record.value);
          mark.sourceOffset = Math.max(mark.sourceOffset, enriched.source.offset);
          fresh.push({ record, enriched });
        } catch (error) {
          await deps.deadLetters.send(record, { code: 'undecodable_record', reason: String((error as Error).message), attempts: 1 });
        }
      }

      const touched = await loadTouched(kv, fresh);
      const ops: KvOp[] = [];
      let applied = 0;
      let rejected = 0;
      for (const { record, enriched } of fresh) {
        const { event } = enriched;
        const t = touched.get(encodeEntityId(event))!;
        const position = { partition: record.partition, offset: record.offset };
        const result = applyEvent(t.after, event, position, { embeddingModel: enriched.embeddings.find((e) => e.modality === 'text')?.model });
        const outcome = result.outcome;
        if (outcome.status === 'applied') {
          applied++;
          t.after = result.state;
          if (event.type === 'MemoryDeleted') {
            // The deleted text's vectors go with it, also when a rewrite follows in this same batch.
            t.embeddings = undefined;
            t.newEmbeddings = true;
          } else if (enriched.embeddings.length > 0) {
            t.embeddings = { ...(t.embeddings ?? {}) };
            for (const e of enriched.embeddings) t.embeddings[e.modality] = { model: e.model, vector: encodeVector(e.vector) };
            t.newEmbeddings = true;
          }
          telemetry.metrics.projectionFreshness.observe(Math.max(0, Date.now() - hlcWallMs(event.hlc)) / 1000);
        } else {
          rejected++;
        }
        const { vectors: _vectors, ...eventWithoutVectors } = event;
        ops.push({ type: 'put', key: historyKey(t.entityId, record.offset), value: json({ event: eventWithoutVectors, outcome, position, source: enriched.source }) });
        ops.push({ type: 'put', key: outcomeKey(event.tenant, event.eventId), value: json({ ...outcome, entityId: t.entityId, position }) });
      }

      const changed = [...touched.values()].filter((t) => t.after !== t.before);
      const keywordChanges: KeywordChange[] = changed.map((t) => ({
        entityId: t.entityId,
        tenant: t.after!.tenant,
        partition: t.partition,
        before: t.before && !t.before.deleted ? t.before.text : undefined,
        after: t.after && !t.after.deleted ? t.after.text : undefined,
      }));
      ops.push(...(await planKeywordUpdate(kv, keywordChanges.filter((c) => c.before !== c.after))));
      for (const t of changed) {
        ops.push({ type: 'put', key: stateKey(t.entityId), value: json(t.after) });
        ops.push(...expiryOps(t.entityId, t.before, t.after));
        if (t.newEmbeddings) {
          ops.push(t.embeddings ? { type: 'put', key: embeddingKey(t.entityId), value: json(t.embeddings) } : { type: 'del', key: embeddingKey(t.entityId) });
        }
      }
      for (const [partition, mark] of marks) ops.push({ type: 'put', key: watermarkKey(partition), value: json(mark) });

      await kv.batch(ops);

      for (const t of changed) {
        const state = t.after!;
        await deps.cache.set(t.entityId, { value: json(state), version: state.version });
      }
      for (const [partition, mark] of marks) deps.watermarks.advance(partition, mark.sourceOffset);
      telemetry.metrics.eventsApplied.inc({ outcome: 'applied' }, applied);
      telemetry.metrics.eventsApplied.inc({ outcome: 'rejected' }, rejected);
      return { applied, rejected, skipped };
    },
  };
}

/** Keeps the expiry index (`x|…`) in step: one entry per live memory that has an expiresAt. */
function expiryOps(entityId: string, before: MemoryState | undefined, after: MemoryState | undefined): KvOp[] {
  const was = before && !before.deleted ? before.expiresAt : undefined;
  const is = after && !after.deleted ? after.expiresAt : undefined;
  if (was === is) return [];
  const ops: KvOp[] = [];
  if (was !== undefined) ops.push({ type: 'del', key: expiryKey(was, entityId) });
  if (is !== undefined) ops.push({ type: 'put', key: expiryKey(is, entityId), value: Buffer.alloc(0) });
  return ops;
}

async function loadTouched(kv: KvStore, fresh: Array<{ record: StoredRecord; enriched: EnrichedEvent }>): Promise<Map<string, Touched>> {
  const touched = new Map<string, Touched>();
  for (const { record, enriched } of fresh) {
    const entityId = encodeEntityId(enriched.event);
    if (!touched.has(entityId)) {
      touched.set(entityId, { entityId, partition: record.partition, before: undefined, after: undefined, embeddings: undefined, newEmbeddings: false });
    }
  }
  const ids = [...touched.keys()];
  const [states, embeddings] = await Promise.all([kv.getMany(ids.map(stateKey)), kv.getMany(ids.map(embeddingKey))]);
  ids.forEach((id, i) => {
    const t = touched.get(id)!;
    t.before = states[i] ? parseJson<MemoryState>(states[i]!) : undefined;
    t.after = t.before;
    t.embeddings = embeddings[i] ? parseJson<StoredEmbeddings>(embeddings[i]!) : undefined;
  });
  return touched;
}
