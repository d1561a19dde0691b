/**
 * The on-disk layout of the embedded event log: one LMDB environment with five named databases.
 * Kept apart from lmdb-event-log.ts so the consumer-group and compaction helpers share one
 * definition of keys, values and validation.
 *
 * Keys use lmdb-js's ordered-binary encoding for arrays of primitives: elements are compared in
 * order, numbers numerically (as sign-flipped doubles) and strings bytewise, so a range over
 * `[topic, partition, from] .. [topic, partition, MAX]` walks one partition in offset order.
 * That encoding delimits array elements with a 0 byte, hence topic and group names must not
 * contain U+0000 (validated here). Record keys are free text and go into a binary key instead.
 */
import { createHash } from 'node:crypto';
import { open, type Database, type RootDatabase } from 'lmdb';
import { NotFoundError } from '@engram/core';
import type { StoredRecord } from '../event-log.js';
import { checkName, type TopicShape } from '../log-validation.js';

export { checkName, checkOffsets, checkPartition, specDifferences } from '../log-validation.js';

/** Past the last offset of any partition; the exclusive end of a partition's range. */
const MAX_OFFSET = Number.MAX_SAFE_INTEGER;

/** A topic's spec as stored. */
export type StoredTopic = TopicShape;

/**
 * One record's envelope; short field names keep pages dense. The msgpack encoding shares its record
 * structures through the database (`sharedStructuresKey`), so a value holds only the field values:
 * without it lmdb-js wrote each value with its own inline structure definition, and every read
 * compiled a reader for it (~20% more CPU per record read in a microbench). Values written that way
 * are still read; a log written with shared structures is not readable by an Engram from before them.
 */
export interface StoredValue {
  k: string;
  v: Buffer | null;
  h: Record<string, string>;
  t: number;
}

/**
 * Records are stored in batches, as Kafka's record batches: the records one append gave one
 * partition are one LMDB entry, keyed `[topic, partition, lastOffset, baseOffset]` and holding
 * their envelopes in offset order (dense: compaction splits a batch where it removes records). One
 * entry per partition and append instead of one per record takes ~1 µs off an append and off a
 * read per record in a microbench, and ~15 µs of server CPU off an event end to end, which is
 * appended three times and read five (docs/decisions.md, "The embedded log's layout"). Keying by
 * the *last* offset lets a range from `[topic, partition, from]` start at the batch holding `from`,
 * and the base offset in the key lets a reader that wants no values (`lazyValues`) count a batch's
 * records from its key alone. A log written before batches has `[topic, partition, offset]` entries
 * of one envelope each; they read as batches of one (base = last = offset), and sort among batches
 * correctly since a key that is a prefix of another sorts first.
 */
export type BatchKey = [string, number, number, number] | [string, number, number];
export type BatchValue = StoredValue[] | StoredValue;

/** The offsets of a batch entry: [base, last]. */
export function batchBounds(key: BatchKey): [number, number] {
  return [key.length === 4 ? key[3] : key[2], key[2]];
}

export const batchRecords = (value: BatchValue): StoredValue[] => (Array.isArray(value) ? value : [value]);

/** The batch entries of one partition from the batch that holds offset `from` on. */
export function batchesFrom(topic: string, partition: number, from: number): { start: BatchKey; end: BatchKey } {
  return { start: [topic, partition, from], end: [topic, partition, MAX_OFFSET] };
}

export interface LogDbs {
  root: RootDatabase;
  topics: Database<StoredTopic, string>;
  records: Database<BatchValue, BatchKey>;
  /** topic + record key → [partition, offset] of the latest copy (dedupe and compaction). */
  keyIndex: Database<[number, number], Buffer>;
  /** [topic, partition] → next offset to be written. */
  ends: Database<number, [string, number]>;
  /** [group, topic, partition] → committed (next-to-read) offset. */
  commits: Database<number, [string, string, number]>;
}

export function openLogDbs(path: string): LogDbs {
  // overlappingSync off: a commit resolves only after LMDB has fsynced it, so an acknowledged
  // append survives a crash of the process or of the machine (see durability in lmdb-event-log.ts).
  const root = open({ path, overlappingSync: false });
  return {
    root,
    topics: root.openDB<StoredTopic, string>('topics', {}),
    records: root.openDB<BatchValue, BatchKey>('records', { sharedStructuresKey: Symbol.for('structures') }),
    keyIndex: root.openDB<[number, number], Buffer>('key-index', { keyEncoding: 'binary' }),
    ends: root.openDB<number, [string, number]>('end-offsets', {}),
    commits: root.openDB<number, [string, string, number]>('committed-offsets', {}),
  };
}

// LMDB's key limit is ~1978 bytes at the default page size; longer record keys are hashed.
const MAX_RAW_INDEX_KEY = 1024;

/**
 * `topic \0 key` as UTF-8, or `topic \0 0xFF sha256(key)` for very long keys (0xFF never starts
 * a UTF-8 sequence, so the two forms cannot collide).
 */
export function indexKey(topic: string, key: string): Buffer {
  // One conversion of one string (~0.2 µs; converting the parts and concatenating them took ~0.55).
  const raw = Buffer.from(`${topic}\0${key}`, 'utf8');
  if (raw.length <= MAX_RAW_INDEX_KEY) return raw;
  return Buffer.concat([Buffer.from(`${topic}\0`, 'utf8'), Buffer.from([0xff]), createHash('sha256').update(key, 'utf8').digest()]);
}

/** The stored spec of `topic`, or topic_not_found. */
export function requireTopic(dbs: LogDbs, topic: string): TopicShape {
  checkName('topic', topic);
  const spec = dbs.topics.get(topic);
  if (spec === undefined) throw new NotFoundError('topic_not_found', `topic ${topic} does not exist`, { topic });
  return spec;
}

/** Next-to-write offset per partition (index = partition). */
export function readEnds(dbs: LogDbs, topic: string, partitions: number): number[] {
  return Array.from({ length: partitions }, (_, p) => dbs.ends.get([topic, p]) ?? 0);
}

/**
 * Up to `limit` records of one partition from `from` (inclusive); compaction gaps are skipped.
 *
 * `lazy` (a consumer's `lazyValues`): only the batch keys are read here, and the first use of a
 * record's key, value, headers or timestamp reads its whole batch, once for all the records read
 * from it. Records are immutable once written, so the later read gives what this one would have;
 * a record that compaction removed before its batch was read (a later record of its key exists)
 * reads as a tombstone.
 */
export function readPartition(dbs: LogDbs, topic: string, partition: number, from: number, limit: number, lazy = false): StoredRecord[] {
  const out: StoredRecord[] = [];
  if (limit <= 0) return out;
  const range = batchesFrom(topic, partition, from);
  if (lazy) {
    for (const key of dbs.records.getKeys(range)) {
      const [base, last] = batchBounds(key);
      const batch = new BatchRef(dbs, key, base);
      for (let offset = Math.max(base, from); offset <= last && out.length < limit; offset++) {
        out.push(new LazyRecord(dbs, batch, topic, partition, offset));
      }
      if (out.length >= limit) break;
    }
  } else {
    for (const { key, value } of dbs.records.getRange(range)) {
      const [base] = batchBounds(key);
      const values = batchRecords(value);
      for (let i = Math.max(0, from - base); i < values.length && out.length < limit; i++) {
        out.push(toRecord(topic, partition, base + i, values[i]!));
      }
      if (out.length >= limit) break;
    }
  }
  return out;
}

/** The record at `offset`, wherever its batch is now (compaction may have split it); undefined if removed. */
function findRecord(dbs: LogDbs, topic: string, partition: number, offset: number): StoredValue | undefined {
  for (const { key, value } of dbs.records.getRange({ ...batchesFrom(topic, partition, offset), limit: 1 })) {
    const [base] = batchBounds(key);
    return offset >= base ? batchRecords(value)[offset - base] : undefined;
  }
  return undefined;
}

function toRecord(topic: string, partition: number, offset: number, stored: StoredValue): StoredRecord {
  return { topic, partition, offset, key: stored.k, value: asBuffer(stored.v), headers: stored.h, timestamp: stored.t };
}

/** One batch entry, read at most once for all the lazy records that come from it. */
class BatchRef {
  /** undefined until read; null when the entry is gone (compaction removed or split it). */
  private values: StoredValue[] | null | undefined;

  constructor(
    private readonly dbs: LogDbs,
    private readonly key: BatchKey,
    private readonly base: number,
  ) {}

  get(offset: number): StoredValue | null {
    if (this.values === undefined) {
      const value = this.dbs.records.get(this.key);
      this.values = value === undefined ? null : batchRecords(value);
    }
    return this.values === null ? null : (this.values[offset - this.base] ?? null);
  }
}

class LazyRecord implements StoredRecord {
  /** undefined until read; null when the record is gone. */
  private stored: StoredRecord | null | undefined;

  constructor(
    private readonly dbs: LogDbs,
    private readonly batch: BatchRef,
    readonly topic: string,
    readonly partition: number,
    readonly offset: number,
  ) {}

  get key(): string {
    return this.load()?.key ?? '';
  }

  get value(): Buffer | null {
    return this.load()?.value ?? null;
  }

  get headers(): Record<string, string> {
    return this.load()?.headers ?? {};
  }

  get timestamp(): number {
    return this.load()?.timestamp ?? 0;
  }

  private load(): StoredRecord | null {
    if (this.stored === undefined) {
      const stored = this.batch.get(this.offset) ?? findRecord(this.dbs, this.topic, this.partition, this.offset);
      this.stored = stored === undefined ? null : toRecord(this.topic, this.partition, this.offset, stored);
    }
    return this.stored;
  }
}

/** msgpackr hands binary back as a Buffer or, depending on the structure it read, a plain Uint8Array. */
function asBuffer(v: Uint8Array | null): Buffer | null {
  return v === null || Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}
