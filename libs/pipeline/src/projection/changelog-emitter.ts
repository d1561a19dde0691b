/**
 * The changelog emitter: a follower (state-follower.ts) that appends the current state of every
 * entity a batch touched to `memory-state`, keyed by entity id, and wakes subscriptions in this
 * process. Kept out of the projector so the projector's batch costs one durable write, not two.
 *
 * Delivery is at least once and carries the newest state: a lagging emitter may skip intermediate
 * versions or repeat a version after a crash; subscribers can order and dedupe by `version`.
 */
import type { EventLog, KvStore, LogConsumer, StoredRecord } from '@engram/ports';
import type { PipelineCodecs } from '../codecs.js';
import { WATERMARKED_COMMIT_EVERY_MS, startConsumerLoop, type ConsumerLoop } from '../consumer-loop.js';
import type { DeadLetterSink } from '../dead-letters.js';
import { changelogWatermarkKey } from '../kv-keys.js';
import type { Signal } from '../signal.js';
import type { Telemetry } from '../telemetry.js';
import type { Topics } from '../topics.js';
import type { AppliedWatermarks } from './applied-watermarks.js';
import { recordHandoffFor } from './record-handoff.js';
import { createFollowerBatch } from './state-follower.js';

export interface ChangelogEmitterOptions {
  log: EventLog;
  kv: KvStore;
  codecs: PipelineCodecs;
  topics: Topics;
  kvWatermarks: AppliedWatermarks;
  changelogWatermarks: AppliedWatermarks;
  /** Notified after new states were appended. */
  stateAppended?: Signal;
  deadLetters: DeadLetterSink;
  telemetry: Telemetry;
  /** @default 'engram-changelog' */
  group?: string;
  /** (ENGRAM_PROJECTION_BATCH_MAX) @default 500 */
  maxBatch?: number;
}

export function startChangelogEmitter(options: ChangelogEmitterOptions): ConsumerLoop {
  const consumer: LogConsumer = options.log.consumer({ group: options.group ?? 'engram-changelog', topic: options.topics.enriched, lazyValues: true });
  return startConsumerLoop({
    name: 'changelog',
    consumer,
    handle: createChangelogBatch(options),
    deadLetters: options.deadLetters,
    telemetry: options.telemetry,
    maxRecords: options.maxBatch ?? 500,
    commitEveryMs: WATERMARKED_COMMIT_EVERY_MS,
  });
}

export function createChangelogBatch(options: ChangelogEmitterOptions): (records: StoredRecord[]) => Promise<void> {
  return createFollowerBatch({
    kv: options.kv,
    codecs: options.codecs,
    kvWatermarks: options.kvWatermarks,
    watermarks: options.changelogWatermarks,
    keyFor: changelogWatermarkKey,
    handoff: recordHandoffFor(options.log, options.topics.enriched),
    withEmbeddings: false,
    handle: async (entities) => {
      // Only entities this batch (or a later one) changed: a batch of rejected events publishes nothing.
      const records = entities
        .filter((e) => e.state !== undefined && e.state.lastApplied.offset >= e.firstOffset)
        .map((e) => ({ key: e.entityId, partition: e.partition, value: options.codecs.state.encode(e.state!) }));
      if (records.length === 0) return;
      await options.log.append(options.topics.state, records);
      options.stateAppended?.notify();
    },
  });
}
