/**
 * The records one embedded log instance appended last, kept in memory per partition for its own
 * consumers, as the page cache keeps a Kafka partition's head for its consumers. In Engram's single
 * process the sequencer reads `memory-events` right behind the ingest that appended them, and the
 * followers of the main thread read `memory-enriched` right behind the sequencer: served from here,
 * such a read costs no LMDB lookup and no decoding of the stored record.
 *
 * Only committed records enter (the append adds them after its transaction is durable), and a
 * partition's tail is one run of consecutive offsets: an offset that does not follow the run (the
 * partition was appended to by another thread or process in between) starts a new run. So a read
 * that the tail answers gets exactly what LMDB holds at those offsets; anything else (an offset
 * before the run, or at its end, where another writer may have appended since) is read from LMDB.
 * Compaction clears the topic's tails, so a record it removed is not served again from here.
 *
 * Records are shared by every reader: consumers treat StoredRecords as immutable.
 */
import type { StoredRecord } from '../event-log.js';

interface Run {
  first: number;
  records: StoredRecord[];
}

export class LogTail {
  /** topic → runs indexed by partition. */
  private readonly topics = new Map<string, Array<Run | undefined>>();

  /** @param perPartition records kept per partition (between this and twice this many). */
  constructor(private readonly perPartition: number) {}

  /** Records whose append has committed, in offset order within each partition. */
  add(records: StoredRecord[]): void {
    if (this.perPartition === 0) return;
    for (const record of records) {
      let runs = this.topics.get(record.topic);
      if (runs === undefined) this.topics.set(record.topic, (runs = []));
      let run = runs[record.partition];
      if (run === undefined || record.offset !== run.first + run.records.length) {
        run = { first: record.offset, records: [] };
        runs[record.partition] = run;
      }
      run.records.push(record);
      // Trimmed in steps, so each append does not copy the run.
      if (run.records.length >= 2 * this.perPartition) {
        const drop = run.records.length - this.perPartition;
        run.records = run.records.slice(drop);
        run.first += drop;
      }
    }
  }

  /** Up to `limit` records from `from` if this tail holds `from`; undefined means: read LMDB. */
  read(topic: string, partition: number, from: number, limit: number): StoredRecord[] | undefined {
    const run = this.topics.get(topic)?.[partition];
    if (run === undefined || from < run.first || from >= run.first + run.records.length) return undefined;
    const start = from - run.first;
    return run.records.slice(start, start + limit);
  }

  clear(topic: string): void {
    this.topics.delete(topic);
  }
}
