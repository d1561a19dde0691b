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
import { batchBounds, batchRecords, batchesFrom, indexKey, requireTopic, type BatchKey, type BatchValue, type LogDbs, type StoredValue } from './lmdb-log-store.js';

/** Records examined per write transaction (whole batches, so a little more): small enough not to hold the writer lock for long. */
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
  // Collect first, rewrite after: changing entries under a live cursor is not something to rely on.
  const entries: Array<{ key: BatchKey; value: BatchValue }> = [];
  let examined = 0;
  for (const entry of dbs.records.getRange(batchesFrom(topic, partition, from))) {
    entries.push(entry);
    examined += batchRecords(entry.value).length;
    if (examined >= CHUNK) break;
  }
  let removed = 0;
  for (const { key, value } of entries) {
    const [base] = batchBounds(key);
    const values = batchRecords(value);
    const keep = values.map((stored, i) => survives(dbs, topic, partition, base + i, stored, tombstoneCutoff));
    const kept = keep.filter(Boolean).length;
    if (kept === values.length) continue;
    removed += values.length - kept;
    // Batches stay dense: what is left becomes one batch per run of consecutive survivors.
    dbs.records.removeSync(key);
    for (let i = 0; i < values.length; ) {
      if (!keep[i]) {
        i++;
        continue;
      }
      let end = i;
      while (end + 1 < values.length && keep[end + 1]) end++;
      dbs.records.putSync([topic, partition, base + end, base + i], values.slice(i, end + 1));
      i = end + 1;
    }
  }
  const last = entries[entries.length - 1];
  return { removed, next: examined >= CHUNK && last !== undefined ? batchBounds(last.key)[1] + 1 : undefined };
}

/**
 * Whether compaction keeps the record at `offset`: it is the latest copy of its key, and not a
 * tombstone past the delete retention. Such a tombstone takes its key out of the index too, so
 * the key is new again for dedupe.
 */
function survives(dbs: LogDbs, topic: string, partition: number, offset: number, stored: StoredValue, tombstoneCutoff: number): boolean {
  const ik = indexKey(topic, stored.k);
  const latest = dbs.keyIndex.get(ik);
  if (latest === undefined || latest[0] !== partition || latest[1] !== offset) return false;
  if (stored.v === null && stored.t < tombstoneCutoff) {
    dbs.keyIndex.removeSync(ik);
    return false;
  }
  return true;
}
