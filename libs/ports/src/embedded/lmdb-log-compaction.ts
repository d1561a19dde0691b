/**
 * Log compaction for the embedded event log (Kafka's cleanup.policy=compact): keep the latest
 * record of each key, drop superseded copies, and drop a latest record that is a tombstone once
 * it is older than the delete retention. Offsets of the remaining records never change; reads
 * simply skip the gaps.
 *
 * The key index (topic + key → position of the latest copy) decides what is "latest", so a key
 * seen in two partitions keeps only its newest copy (Kafka would keep one per partition; Engram
 * derives the partition from the key, so this does not arise).
 */
import { MAX_OFFSET, indexKey, requireTopic, type LogDbs, type RecordKey } from './lmdb-log-store.js';

/** Records examined per write transaction: small enough not to hold the writer lock for long. */
const CHUNK = 1000;

export async function compactTopic(dbs: LogDbs, topic: string, deleteRetentionMs: number): Promise<{ removed: number }> {
  const spec = requireTopic(dbs, topic);
  // A delete-policy topic keeps everything: nothing to compact, as Kafka's cleaner would do.
  if (!spec.compacted) return { removed: 0 };
  const tombstoneCutoff = Date.now() - deleteRetentionMs;
  let removed = 0;
  for (let partition = 0; partition < spec.partitions; partition++) {
    let from = 0;
    for (;;) {
      // Each chunk is its own transaction and decides from the index as it is at that moment: a
      // record that is not the latest copy never becomes the latest again, so interleaved appends
      // cannot make a chunk remove a record it should keep.
      const chunk = await dbs.root.childTransaction(() => compactChunk(dbs, topic, partition, from, tombstoneCutoff));
      removed += chunk.removed;
      if (chunk.next === undefined) break;
      from = chunk.next;
    }
  }
  return { removed };
}

function compactChunk(
  dbs: LogDbs,
  topic: string,
  partition: number,
  from: number,
  tombstoneCutoff: number,
): { removed: number; next: number | undefined } {
  // Collect first, delete after: removing under a live cursor is not something to rely on.
  const entries = [...dbs.records.getRange({ start: [topic, partition, from], end: [topic, partition, MAX_OFFSET], limit: CHUNK })];
  const doomed: RecordKey[] = [];
  const expiredKeys: Buffer[] = [];
  for (const { key, value } of entries) {
    const ik = indexKey(topic, value.k);
    const latest = dbs.keyIndex.get(ik);
    const isLatest = latest !== undefined && latest[0] === partition && latest[1] === key[2];
    if (!isLatest) doomed.push(key);
    else if (value.v === null && value.t < tombstoneCutoff) {
      doomed.push(key);
      expiredKeys.push(ik);
    }
  }
  for (const key of doomed) dbs.records.removeSync(key);
  for (const ik of expiredKeys) dbs.keyIndex.removeSync(ik);
  const last = entries[entries.length - 1];
  return { removed: doomed.length, next: entries.length === CHUNK && last !== undefined ? last.key[2] + 1 : undefined };
}
