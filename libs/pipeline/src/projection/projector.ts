/**
 * The projection: folds a batch of `memory-enriched` records into KV state, history (which holds
 * each event's outcome), the KV keyword index (unless it lives in memory: keyword-indexer.ts) and
 * the cache. Followers (state-follower.ts) then feed the vector index and the `memory-state`
 * changelog from what it stored.
 *
 * Effectively once (DESIGN.md section 4): consumers read at least once, so a record at or below the
 * partition's applied watermark (stored in the same KV batch as the state it produced) is skipped.
 * Order of effects for one batch, chosen so a crash at any point is repaired by redelivery:
 *   1. ONE atomic KV batch: states, history, keyword postings, current embeddings, watermarks,
 *   2. cache (version-guarded), in-process watermark wake-ups, and the hand-off of what it decoded
 *      to the followers of this process (record-handoff.ts) and of the states it serialized to the
 *      parsed-state memo (query/state-memo.ts; only memories that existed before the batch) —
 *      savings only, both checked by whoever uses them,
 *   3. consumer offsets (the caller commits after this returns).
 * The vector index and the changelog are fed by their own consumers from what is stored here, so the
 * slower HNSW inserts never hold back state, history and keyword search.
 */
import { applyEvent, encodeEntityId, hlcWallMs, type EnrichedEvent, type Embedding, type MemoryEvent, type MemoryState } from '@engram/core';
import { embeddingModelKey, type Cache, type EventLog, type KvOp, type KvStore, type StoredRecord } from '@engram/ports';
import type { PipelineCodecs } from '../codecs.js';
import type { DeadLetterSink } from '../dead-letters.js';
import { embeddingKey, expiryKey, historyKey, json, parseJson, stateKey, watermarkKey } from '../kv-keys.js';
import { planKeywordUpdate, type KeywordChange } from '../search/index.js';
import type { Telemetry } from '../telemetry.js';
import type { Topics } from '../topics.js';
import { stateMemoFor, type StateMemo } from '../query/state-memo.js';
import type { AppliedWatermarks, Watermark } from './applied-watermarks.js';
import { indexedText } from './keyword-indexer.js';
import { recordHandoffFor, summarizeRecord, type HandedOn, type RecordSummary } from './record-handoff.js';
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
  /**
   * Keep the KV keyword index (`kw|…`) in the same batch (ENGRAM_KEYWORD_INDEX=kv); off when the
   * keyword index lives in memory beside the searches (projection/keyword-indexer.ts).
   * @default true
   */
  kvKeywordIndex?: boolean;
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
  /** The entity had stored vectors before the batch (whether or not they were loaded into `embeddings`). */
  hadVectors: boolean;
}

export interface Projector {
  project(records: StoredRecord[]): Promise<{ applied: number; rejected: number; skipped: number }>;
}

export function createProjector(deps: ProjectorDeps): Projector {
  const { kv, codecs, telemetry } = deps;
  const kvKeywordIndex = deps.kvKeywordIndex ?? true;
  const memo = stateMemoFor(kv);
  const handoff = recordHandoffFor(deps.log, deps.topics.enriched);

  return {
    async project(records) {
      const partitions = [...new Set(records.map((r) => r.partition))];
      const marks = new Map<number, Watermark>();
      (await kv.getMany(partitions.map(watermarkKey))).forEach((buf, i) => {
        marks.set(partitions[i]!, buf ? parseJson<Watermark>(buf) : { enrichedOffset: -1, sourceOffset: -1 });
      });

      // Decode; a poison record goes to the dead-letter topic and still advances the watermark.
      const fresh: Array<{ record: StoredRecord; enriched: EnrichedEvent; entityId: string; summary: RecordSummary }> = [];
      const summaries: Array<{ partition: number; offset: number; summary: HandedOn }> = [];
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
          const entityId = encodeEntityId(enriched.event);
          const summary = summarizeRecord(enriched, entityId);
          fresh.push({ record, enriched, entityId, summary });
          summaries.push({ partition: record.partition, offset: record.offset, summary });
        } catch (error) {
          await deps.deadLetters.send(record, { code: 'undecodable_record', reason: String((error as Error).message), attempts: 1 });
          summaries.push({ partition: record.partition, offset: record.offset, summary: null });
        }
      }

      const touched = await loadTouched(kv, memo, fresh);
      // The vector indexer can pass over entities that have no vectors and get none.
      for (const f of fresh) {
        const t = touched.get(f.entityId)!;
        f.summary.vectors = t.hadVectors || changesEmbeddings(f.enriched) || f.summary.deleted;
      }
      // One group of ops per key prefix, concatenated in key order (h, kw, m, v, w, x): the embedded
      // store inserts a batch faster when its keys come sorted (see planKeywordUpdate).
      const history: KvOp[] = [];
      let applied = 0;
      let rejected = 0;
      for (const { record, enriched, entityId } of fresh) {
        const { event } = enriched;
        const t = touched.get(entityId)!;
        const position = { partition: record.partition, offset: record.offset };
        const result = applyEvent(t.after, event, position, { embeddingModel: textModel(enriched) });
        const outcome = result.outcome;
        if (outcome.status === 'applied') {
          applied++;
          t.after = result.state;
          if (event.type === 'MemoryDeleted') {
            // The deleted text's vectors go with it, also when a rewrite follows in this same batch.
            t.embeddings = undefined;
            t.newEmbeddings = true;
          } else if (changesEmbeddings(enriched)) {
            const next: StoredEmbeddings = { ...(t.embeddings ?? {}) };
            // New text that could not be embedded: the old text's vector must not answer for it.
            if (dropsTextVector(enriched)) delete next.text;
            for (const e of enriched.embeddings) next[e.modality] = { model: modelKeyOf(e), vector: encodeVector(e.vector) };
            t.embeddings = Object.keys(next).length > 0 ? next : undefined;
            t.newEmbeddings = true;
          }
          telemetry.metrics.projectionFreshness.observe(Math.max(0, Date.now() - hlcWallMs(event.hlc)) / 1000);
        } else {
          rejected++;
        }
        // The history entry is also where `?wait=applied` finds the outcome (query-service.ts, outcomes).
        history.push({ type: 'put', key: historyKey(entityId, record.offset), value: json({ event: withoutVectors(event), outcome, position, source: enriched.source }) });
      }

      const changed = [...touched.values()].filter((t) => t.after !== t.before);
      const keyword = kvKeywordIndex ? await planKeywordUpdate(kv, keywordChanges(changed)) : [];
      const states: KvOp[] = [];
      const embeddings: KvOp[] = [];
      const expiry: KvOp[] = [];
      const stored = changed.map((t) => {
        const value = json(t.after);
        states.push({ type: 'put', key: stateKey(t.entityId), value });
        expiry.push(...expiryOps(t.entityId, t.before, t.after));
        if (t.newEmbeddings) {
          embeddings.push(t.embeddings ? { type: 'put', key: embeddingKey(t.entityId), value: json(t.embeddings) } : { type: 'del', key: embeddingKey(t.entityId) });
        }
        return value;
      });
      const watermarkOps: KvOp[] = [...marks].map(([partition, mark]) => ({ type: 'put', key: watermarkKey(partition), value: json(mark) }));

      await kv.batch([...history, ...keyword, ...states, ...embeddings, ...watermarkOps, ...expiry]);

      // The memo gets the new states of memories that existed before this batch only: a bulk load of
      // new memories would churn it (and the old generation of this thread's heap) for states that
      // are mostly read once, by the changelog emitter, which parses them then (an A/B of 4 pairs:
      // −3 to −14 µs of CPU per event; bench/results/pipeline.md, "Session 8"). The cache gets every
      // new state, so a read right after a write is a hit.
      // All at once: one entity appears once here, and a networked cache pipelines them.
      await Promise.all(
        changed.map(({ entityId, before, after }, i) => {
          if (before !== undefined) memo.remember(entityId, stored[i]!, after!);
          return deps.cache.set(entityId, { value: stored[i]!, version: after!.version });
        }),
      );
      for (const [partition, mark] of marks) deps.watermarks.advance(partition, mark.sourceOffset);
      handoff.publish(new Map([...marks].map(([partition, mark]) => [partition, mark.enrichedOffset])), summaries);
      telemetry.metrics.eventsApplied.inc({ outcome: 'applied' }, applied);
      telemetry.metrics.eventsApplied.inc({ outcome: 'rejected' }, rejected);
      return { applied, rejected, skipped };
    },
  };
}

/** The text changes of the entities a batch changed, for the KV keyword index. */
function keywordChanges(changed: Touched[]): KeywordChange[] {
  const changes: KeywordChange[] = changed.map((t) => ({
    entityId: t.entityId,
    tenant: t.after!.tenant,
    partition: t.partition,
    before: indexedText(t.before),
    after: indexedText(t.after),
  }));
  return changes.filter((c) => c.before !== c.after);
}

/** The key (`<id>@<revision>`) of the model that embedded the event's text, recorded on the state. */
function textModel(enriched: EnrichedEvent): string | undefined {
  for (const e of enriched.embeddings) if (e.modality === 'text') return modelKeyOf(e);
  return undefined;
}

/** The key (`<id>@<revision>`) of the model that made an embedding. */
function modelKeyOf(e: Embedding): string {
  return embeddingModelKey({ id: e.model, revision: e.revision });
}

/** The event sets a text that has no vector (enrichment failed, or the text is empty). */
function dropsTextVector(enriched: EnrichedEvent): boolean {
  const { event } = enriched;
  return event.type !== 'MemoryDeleted' && event.text !== undefined && !enriched.embeddings.some((e) => e.modality === 'text');
}

/** Applying the event changes the entity's stored vectors (`v|`), so they must be read first. */
function changesEmbeddings(enriched: EnrichedEvent): boolean {
  return enriched.embeddings.length > 0 || dropsTextVector(enriched);
}

/** History keeps the event without its client vectors (they are in the log, and large). */
function withoutVectors(event: MemoryEvent): Omit<MemoryEvent, 'vectors'> {
  if (event.vectors === undefined) return event;
  const { vectors: _vectors, ...rest } = event;
  return rest;
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

async function loadTouched(kv: KvStore, memo: StateMemo, fresh: Array<{ record: StoredRecord; enriched: EnrichedEvent; entityId: string }>): Promise<Map<string, Touched>> {
  const touched = new Map<string, Touched>();
  /** Entities whose vectors change in this batch: only their stored ones are merged, so only they are parsed. */
  const merging = new Set<string>();
  for (const { record, enriched, entityId } of fresh) {
    if (!touched.has(entityId)) {
      touched.set(entityId, { entityId, partition: record.partition, before: undefined, after: undefined, embeddings: undefined, newEmbeddings: false, hadVectors: false });
    }
    if (changesEmbeddings(enriched)) merging.add(entityId);
  }
  const ids = [...touched.keys()];
  const states = await kv.getMany(ids.map(stateKey));
  ids.forEach((id, i) => {
    const t = touched.get(id)!;
    t.before = states[i] ? memo.parse(id, states[i]!).state : undefined;
    t.after = t.before;
  });
  // An entity without a state never had anything applied, so it has no stored vectors either. The
  // stored vectors of the others are looked up (the vector indexer is told who has any), and parsed
  // only where this batch merges into them.
  const existing = ids.filter((id) => touched.get(id)!.before !== undefined);
  (await kv.getMany(existing.map(embeddingKey))).forEach((buf, i) => {
    if (!buf) return;
    const t = touched.get(existing[i]!)!;
    t.hadVectors = true;
    if (merging.has(t.entityId)) t.embeddings = parseJson<StoredEmbeddings>(buf);
  });
  return touched;
}
