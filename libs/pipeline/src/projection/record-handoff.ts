/**
 * The in-process hand-off from the projector to its followers (state-follower.ts): what a follower
 * needs to know about a `memory-enriched` record — its entity, whether it is a delete, its
 * `memory-events` offset — as the projector decoded it. Without it every record would be
 * Avro-decoded three times (projector, vector indexer, changelog emitter) although the followers use
 * three fields of it.
 *
 * Only a saving, never a source of truth: the followers stay separate consumers with their own
 * offsets and watermarks, and a follower that finds no summary (the projection runs in another
 * process, owns other partitions, skipped a redelivery, or the entry was evicted) decodes the record
 * itself. A summary is a fact about an immutable log position, so a hit is always right.
 *
 * The projector publishes after its KV batch is durable, so "the projector has passed this offset"
 * also means "KV holds its effects": a follower waiting here waits no longer than it would for the
 * KV watermark.
 */
import { encodeEntityId, type EnrichedEvent } from '@engram/core';
import type { EventLog } from '@engram/ports';
import { createSignal } from '../signal.js';

export interface RecordSummary {
  entityId: string;
  /** The record is a MemoryDeleted. */
  deleted: boolean;
  /** The record can change the entity's text: it carries one, or it is a MemoryDeleted (any other event keeps the text). */
  changesText: boolean;
  /**
   * The record can concern the vector index: its entity had stored vectors, or the record brings or
   * drops some, or deletes. True unless the projector, which looks, found otherwise.
   */
  vectors: boolean;
  /** Offset of the event in `memory-events` (what watermarks and tokens count). */
  sourceOffset: number;
}

/** What a follower needs of a decoded `memory-enriched` record. */
export function summarizeRecord(enriched: EnrichedEvent, entityId = encodeEntityId(enriched.event)): RecordSummary {
  const deleted = enriched.event.type === 'MemoryDeleted';
  return { entityId, deleted, changesText: deleted || enriched.event.text !== undefined, vectors: true, sourceOffset: enriched.source.offset };
}

/** `null`: the projector could not decode the record (it went to the dead-letter topic). */
export type HandedOn = RecordSummary | null;

export interface RecordHandoff {
  /** The summary of a record the projector decoded; undefined when unknown here. */
  get(partition: number, offset: number): HandedOn | undefined;
  /**
   * The projector's side, once its batch is durable: the summaries it decoded, and the highest
   * offset it has passed per partition (skipped redeliveries and tombstones included).
   */
  publish(passed: ReadonlyMap<number, number>, summaries: ReadonlyArray<{ partition: number; offset: number; summary: HandedOn }>): void;
  /**
   * Waits until a projector of this process has passed `offset` of `partition`. Resolves false at
   * once when none is known to be working on that partition (it never published for it, or a
   * previous wait on it timed out and nothing was published for it since), and after `timeoutMs`
   * otherwise.
   */
  waitPassed(partition: number, offset: number, timeoutMs: number): Promise<boolean>;
  /** Calls `listener` after every publish (the projection thread passes its summaries on to the main thread's followers). */
  onPublish(listener: PublishListener): void;
}

export type PublishListener = (passed: ReadonlyMap<number, number>, summaries: ReadonlyArray<{ partition: number; offset: number; summary: HandedOn }>) => void;

export interface RecordHandoffOptions {
  /** Summaries kept (oldest dropped first); about 150 bytes each. @default 50000 */
  maxEntries?: number;
}

/** A hand-off per log and topic: the projector and the followers of one process share it. */
const handoffs = new WeakMap<EventLog, Map<string, RecordHandoff>>();

export function recordHandoffFor(log: EventLog, topic: string): RecordHandoff {
  let byTopic = handoffs.get(log);
  if (!byTopic) handoffs.set(log, (byTopic = new Map()));
  let handoff = byTopic.get(topic);
  if (!handoff) byTopic.set(topic, (handoff = createRecordHandoff()));
  return handoff;
}

export function createRecordHandoff(options: RecordHandoffOptions = {}): RecordHandoff {
  const max = options.maxEntries ?? 50_000;
  // One map per partition, in insertion (= offset) order, and a ring of the partition of every
  // insertion, so the globally oldest entry is always the first of the partition at the ring's head.
  const byPartition = new Map<number, Map<number, HandedOn>>();
  const ring = new Int32Array(max);
  let head = 0;
  let size = 0;
  const passedBy = new Map<number, number>();
  /**
   * Partitions whose last wait timed out: the projector here is stuck, or no longer owns them after
   * a rebalance. Nobody waits on them again until it publishes for them.
   */
  const stale = new Set<number>();
  const published = createSignal();
  const listeners: PublishListener[] = [];

  function insert(partition: number, offset: number, summary: HandedOn): void {
    let map = byPartition.get(partition);
    if (!map) byPartition.set(partition, (map = new Map()));
    if (map.has(offset)) return;
    if (size === max) {
      const oldest = byPartition.get(ring[head]!)!;
      oldest.delete(oldest.keys().next().value!);
      head = (head + 1) % max;
      size--;
    }
    map.set(offset, summary);
    ring[(head + size) % max] = partition;
    size++;
  }

  return {
    get: (partition, offset) => byPartition.get(partition)?.get(offset),

    publish(passed, summaries) {
      for (const { partition, offset, summary } of summaries) insert(partition, offset, summary);
      for (const [partition, offset] of passed) {
        passedBy.set(partition, Math.max(offset, passedBy.get(partition) ?? -1));
        stale.delete(partition);
      }
      published.notify();
      for (const listener of listeners) listener(passed, summaries);
    },

    onPublish(listener) {
      listeners.push(listener);
    },

    async waitPassed(partition, offset, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const passed = passedBy.get(partition);
        if (passed === undefined || stale.has(partition)) return false;
        if (passed >= offset) return true;
        const left = deadline - Date.now();
        if (left <= 0) {
          stale.add(partition);
          return false;
        }
        await published.wait(left);
      }
    },
  };
}
