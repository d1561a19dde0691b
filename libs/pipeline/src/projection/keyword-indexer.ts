/**
 * The keyword indexer keeps the in-process keyword index (search/memory-keyword-index.ts) in step
 * with the KV projection: at start it indexes the text of every state in KV, then, as a follower
 * (state-follower.ts) of `memory-enriched`, re-indexes the current text of every entity a batch
 * touched. Its watermark, in process only, tells keyword searches how far the index has got.
 *
 * Nothing of it is stored, so nothing can disagree after a crash: the rebuild reads the projection's
 * watermarks before the states, so the states are at least as new as those watermarks, and the
 * follower starts from them; a record it sees again re-indexes the entity's current text, which is
 * idempotent. Runs in the process that serves searches (the `query` role).
 */
import { Gauge } from 'prom-client';
import type { MemoryState } from '@engram/core';
import type { EventLog, KvStore, StoredRecord } from '@engram/ports';
import type { PipelineCodecs } from '../codecs.js';
import { WATERMARKED_COMMIT_EVERY_MS, startConsumerLoop, type ConsumerLoop } from '../consumer-loop.js';
import type { DeadLetterSink } from '../dead-letters.js';
import { STATE_PREFIX, parseJson, watermarkKey } from '../kv-keys.js';
import type { MemoryKeywordIndex } from '../search/index.js';
import type { Telemetry } from '../telemetry.js';
import type { Topics } from '../topics.js';
import type { AppliedWatermarks, Watermark } from './applied-watermarks.js';
import { recordHandoffFor } from './record-handoff.js';
import { createFollowerBatch } from './state-follower.js';

export interface KeywordIndexerOptions {
  log: EventLog;
  kv: KvStore;
  index: MemoryKeywordIndex;
  codecs: PipelineCodecs;
  topics: Topics;
  /** The KV projection's progress: the indexer never gets ahead of it. */
  kvWatermarks: AppliedWatermarks;
  /** The index's progress: advanced by the rebuild, then after each batch. */
  keywordWatermarks: AppliedWatermarks;
  deadLetters: DeadLetterSink;
  telemetry: Telemetry;
  /** @default 'engram-keywords' */
  group?: string;
  /** @default 500 */
  maxBatch?: number;
}

/** Rebuilds the index from KV, then follows the projection. */
export async function startKeywordIndexer(options: KeywordIndexerOptions): Promise<ConsumerLoop> {
  const started = Date.now();
  const marks = await rebuildKeywordIndex(options.kv, options.index, options.topics.partitions);
  for (const [p, m] of marks) if (m.sourceOffset >= 0) options.keywordWatermarks.advance(p, m.sourceOffset);
  options.telemetry.logger.info({ ...options.index.size(), ms: Date.now() - started }, 'keyword index rebuilt from the KV projection');
  const { index } = options;
  new Gauge({
    name: 'engram_keyword_index_documents',
    help: 'Documents (memories with text) in the in-memory keyword index',
    registers: [options.telemetry.metrics.registry],
    collect() {
      this.set(index.size().docs);
    },
  });
  const consumer = options.log.consumer({ group: options.group ?? 'engram-keywords', topic: options.topics.enriched, lazyValues: true });
  return startConsumerLoop({
    name: 'keyword-indexer',
    consumer,
    handle: createKeywordIndexBatch(options, marks),
    deadLetters: options.deadLetters,
    telemetry: options.telemetry,
    maxRecords: options.maxBatch ?? 500,
    commitEveryMs: WATERMARKED_COMMIT_EVERY_MS,
  });
}

/** One follower batch; `marks` is the index's progress per partition (see createFollowerBatch). */
export function createKeywordIndexBatch(options: KeywordIndexerOptions, marks: Map<number, Watermark>): (records: StoredRecord[]) => Promise<void> {
  return createFollowerBatch({
    kv: options.kv,
    codecs: options.codecs,
    kvWatermarks: options.kvWatermarks,
    watermarks: options.keywordWatermarks,
    marks,
    withEmbeddings: false,
    // Only an event with text, or a delete, changes what an entity is found by.
    concerns: (summary) => summary.changesText,
    handoff: recordHandoffFor(options.log, options.topics.enriched),
    handle: async (entities) => {
      for (const e of entities) options.index.set(e.entityId, indexedText(e.state));
    },
  });
}

/**
 * Indexes the text of every state in KV into `index`. Returns the KV projection's watermarks read
 * before the scan: the index covers at least them.
 */
export async function rebuildKeywordIndex(kv: KvStore, index: MemoryKeywordIndex, partitions: number): Promise<Map<number, Watermark>> {
  const marks = new Map<number, Watermark>();
  const all = Array.from({ length: partitions }, (_, p) => p);
  (await kv.getMany(all.map(watermarkKey))).forEach((buf, p) => {
    marks.set(p, buf ? parseJson<Watermark>(buf) : { enrichedOffset: -1, sourceOffset: -1 });
  });
  let after: string | undefined;
  for (;;) {
    const page = await kv.scan({ prefix: STATE_PREFIX, after, limit: 1000 });
    for (const { key, value } of page.entries) index.set(key.slice(STATE_PREFIX.length), indexedText(parseJson<MemoryState>(value)));
    if (page.cursor === undefined || page.entries.length === 0) return marks;
    after = page.cursor;
  }
}

/** What keyword search finds an entity by: its text while it is not deleted (both keyword indexes). */
export function indexedText(state: MemoryState | undefined): string | undefined {
  return state && !state.deleted ? state.text : undefined;
}
