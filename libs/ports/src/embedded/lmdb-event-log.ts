/**
 * The embedded EventLog (single-node default): a partitioned, append-only log with consumer groups
 * in one LMDB environment (layout in lmdb-log-store.ts).
 *
 * Durability and crash safety: every append, commit and topic creation is one LMDB write
 * transaction, and its promise resolves only after LMDB has fsynced it (overlappingSync is off,
 * sync is on). LMDB is copy-on-write: a transaction writes new pages and never touches pages that a
 * committed transaction can reach; the commit becomes visible by writing one of two alternating
 * meta pages after the data pages are on disk. A write torn by kill -9 or power loss therefore
 * leaves only unreferenced pages, and the next open picks the newest intact meta page: the log is
 * either at the old or at the new transaction, never half-appended, and no recovery pass is needed.
 *
 * Throughput: lmdb-js runs all async transactions queued in one event turn inside one LMDB
 * transaction with one fsync, so many concurrent appends share a commit. Each append runs as a
 * child transaction of that batch, so a failing append rolls back alone.
 */
import { resolve } from 'node:path';
import { BroadcastChannel } from 'node:worker_threads';
import { ConflictError, EngramError, ValidationError } from '@engram/core';
import type { AppendOptions, AppendResult, EventLog, LogRecord, PartitionOffset, StoredRecord, TopicSpec } from '../event-log.js';
import { checkRecord, checkTopicSpec } from '../log-validation.js';
import { compactTopic } from './lmdb-log-compaction.js';
import { GroupRegistry, Waker } from './lmdb-log-consumer.js';
import {
  checkName,
  checkOffsets,
  checkPartition,
  indexKey,
  openLogDbs,
  readEnds,
  readPartition,
  requireTopic,
  specDifferences,
  type LogDbs,
  type StoredValue,
} from './lmdb-log-store.js';

export interface LmdbEventLogOptions {
  /** Directory of the LMDB environment; created if missing. Several processes may open it. */
  path: string;
  /** How often waiting polls re-check for appends made by other processes (one check per log, only while a poll waits; appends in this process, on any thread, wake them at once). @default 50 */
  pollIntervalMs?: number;
  /** How long compaction keeps a tombstone after its timestamp (Kafka's delete.retention.ms). @default 86400000 (24 h) */
  deleteRetentionMs?: number;
}

export type LmdbEventLog = EventLog & {
  /**
   * Compacts a compacted topic: removes every record that is not the latest for its key, and
   * latest records that are tombstones older than `deleteRetentionMs`. Offsets do not change.
   * A topic that is not compacted is left alone ({ removed: 0 }).
   */
  compact(topic: string): Promise<{ removed: number }>;
};

export function createLmdbEventLog(options: LmdbEventLogOptions): LmdbEventLog {
  const pollIntervalMs = positive('pollIntervalMs', options.pollIntervalMs ?? 50);
  const deleteRetentionMs = positive('deleteRetentionMs', options.deleteRetentionMs ?? 86_400_000, true);
  const dbs = openLogDbs(options.path);
  // Appends by other processes show as a change of the topic's end offsets.
  const waker = new Waker(pollIntervalMs, (topic) => readEnds(dbs, topic, requireTopic(dbs, topic).partitions).join(','));
  let closed = false;
  // Logs open on the same directory in other threads of this process (the projection thread) hear
  // of appends at once; other processes find them at their next poll.
  const appended = new BroadcastChannel(`engram-lmdb-log:${resolve(options.path)}`);
  appended.unref();
  appended.onmessage = (message) => {
    if (closed) return;
    dbs.root.resetReadTxn(); // else a poll could still read the snapshot from before that append
    waker.wake(String(message.data));
  };

  const assertOpen = (): void => {
    if (closed) throw new EngramError('log_closed', `the event log at ${options.path} is closed`);
  };

  // A child transaction inside lmdb-js's batched commit: it is aborted alone if `fn` throws.
  const write = <T>(fn: () => T): Promise<T> => dbs.root.childTransaction(fn);

  const commitOffsets = async (group: string, topic: string, offsets: PartitionOffset[]): Promise<void> => {
    assertOpen();
    checkName('group', group);
    await write(() => {
      checkOffsets(topic, requireTopic(dbs, topic), offsets);
      for (const { partition, offset } of offsets) dbs.commits.putSync([group, topic, partition], offset);
    });
  };

  const groups = new GroupRegistry({ dbs, waker, commit: commitOffsets, assertOpen });

  return {
    async ensureTopic(spec: TopicSpec): Promise<void> {
      assertOpen();
      const wanted = checkTopicSpec(spec);
      const known = dbs.topics.get(spec.name);
      // The common case (the topic exists as specified) needs no write transaction.
      if (known !== undefined && specDifferences(known, spec).length === 0) return;
      await write(() => {
        const existing = dbs.topics.get(spec.name);
        if (existing === undefined) {
          dbs.topics.putSync(spec.name, wanted);
          return;
        }
        const diffs = specDifferences(existing, spec);
        if (diffs.length > 0) {
          throw new ConflictError('topic_config_mismatch', `topic ${spec.name} exists with ${diffs.join(', ')}`, {
            topic: spec.name,
            existing,
            requested: wanted,
          });
        }
      });
    },

    async append(topic: string, records: LogRecord[], appendOptions: AppendOptions = {}): Promise<AppendResult[]> {
      assertOpen();
      if (!Array.isArray(records)) throw new ValidationError('invalid_record', 'records must be an array');
      const results = await write(() => appendInTxn(dbs, topic, records, appendOptions));
      if (results.some((r) => !r.duplicate)) {
        waker.wake(topic);
        appended.postMessage(topic);
      }
      return results;
    },

    async read(topic: string, partition: number, fromOffset: number, maxRecords: number): Promise<StoredRecord[]> {
      assertOpen();
      checkPartition(topic, requireTopic(dbs, topic), partition);
      return readPartition(dbs, topic, partition, Math.max(0, fromOffset), maxRecords);
    },

    async endOffsets(topic: string): Promise<number[]> {
      assertOpen();
      return readEnds(dbs, topic, requireTopic(dbs, topic).partitions);
    },

    async committedOffsets(group: string, topic: string): Promise<number[]> {
      assertOpen();
      checkName('group', group);
      const { partitions } = requireTopic(dbs, topic);
      return Array.from({ length: partitions }, (_, p) => dbs.commits.get([group, topic, p]) ?? 0);
    },

    consumer: (consumerOptions) => groups.join(consumerOptions),

    refreshSnapshot(): void {
      if (!closed) dbs.root.resetReadTxn();
    },

    async compact(topic: string): Promise<{ removed: number }> {
      assertOpen();
      return compactTopic(dbs, topic, deleteRetentionMs);
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      appended.close();
      groups.closeAll();
      waker.close();
      await dbs.root.close();
    },
  };
}

/**
 * Runs inside the write transaction, so offsets, the dedupe check and the committed offsets all
 * see the state left by the appends committed (or batched) before this one.
 */
function appendInTxn(dbs: LogDbs, topic: string, records: LogRecord[], options: AppendOptions): AppendResult[] {
  const spec = requireTopic(dbs, topic);
  // Validate the whole batch before writing anything: a bad record means nothing is stored.
  records.forEach((r, i) => checkRecord(topic, spec, r, i));
  if (options.commit !== undefined) {
    checkName('group', options.commit.group);
    checkOffsets(options.commit.topic, requireTopic(dbs, options.commit.topic), options.commit.offsets);
  }
  const now = Date.now();
  // One batch per partition (layout in lmdb-log-store.ts): its records get consecutive offsets from the partition's end.
  const batches = new Map<number, { base: number; values: StoredValue[] }>();
  const results: AppendResult[] = [];
  for (const record of records) {
    const ik = indexKey(topic, record.key);
    // Tombstones are never skipped: deleting a key must work whatever the dedupe setting.
    if (options.dedupe === true && record.value !== null) {
      const first = dbs.keyIndex.get(ik);
      if (first !== undefined) {
        results.push({ partition: first[0], offset: first[1], duplicate: true });
        continue;
      }
    }
    const p = record.partition;
    let batch = batches.get(p);
    if (batch === undefined) {
      batch = { base: dbs.ends.get([topic, p]) ?? 0, values: [] };
      batches.set(p, batch);
    }
    const offset = batch.base + batch.values.length;
    const value = record.value === null ? null : Buffer.from(record.value.buffer, record.value.byteOffset, record.value.byteLength);
    batch.values.push({ k: record.key, v: value, h: record.headers ?? {}, t: record.timestamp ?? now });
    dbs.keyIndex.putSync(ik, [p, offset]);
    results.push({ partition: p, offset, duplicate: false });
  }
  for (const [p, { base, values }] of batches) {
    const next = base + values.length;
    dbs.records.putSync([topic, p, next - 1, base], values);
    dbs.ends.putSync([topic, p], next);
  }
  if (options.commit !== undefined) {
    const { group, topic: commitTopic, offsets } = options.commit;
    for (const { partition, offset } of offsets) dbs.commits.putSync([group, commitTopic, partition], offset);
  }
  return results;
}

function positive(name: string, value: number, allowZero = false): number {
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new ValidationError('invalid_option', `${name} must be a ${allowZero ? 'non-negative' : 'positive'} number`, { [name]: value });
  }
  return value;
}
