/**
 * EventLog: a partitioned, append-only log with consumer groups (Kafka's model). The embedded
 * implementation lives in embedded/lmdb-event-log.ts; the Kafka one in libs/kafka. Both pass the
 * same contract suite (libs/testing/src/contracts/event-log.contract.ts).
 */

export interface TopicSpec {
  name: string;
  partitions: number;
  /** cleanup.policy=compact: compaction keeps the last record per key and drops tombstones after a while. */
  compacted: boolean;
  /** @default 1 */
  replicationFactor?: number;
}

/** A record to append. `value: null` is a tombstone. */
export interface LogRecord {
  key: string;
  value: Buffer | null;
  partition: number;
  headers?: Record<string, string>;
  /** Epoch ms. @default now */
  timestamp?: number;
}

export interface StoredRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string;
  value: Buffer | null;
  headers: Record<string, string>;
  timestamp: number;
}

/** `offset` is the next offset to read (Kafka's convention). */
export interface PartitionOffset {
  partition: number;
  offset: number;
}

export interface AppendOptions {
  /**
   * Skip a record whose key the topic already holds, and report it as a duplicate with the position of
   * the first copy. Exact in the embedded log (checked in the append's own transaction); best effort
   * within the dedup window in Kafka.
   */
  dedupe?: boolean;
  /**
   * Commit these consumer offsets atomically with the append (consume-transform-produce). The embedded
   * log does it in one LMDB transaction; Kafka in a transaction with sendOffsets.
   */
  commit?: { group: string; topic: string; offsets: PartitionOffset[] };
}

export interface AppendResult {
  partition: number;
  offset: number;
  duplicate: boolean;
}

export interface ConsumerOptions {
  group: string;
  topic: string;
  /** Where a group with no committed offset starts. @default 'earliest' */
  fromBeginning?: boolean;
  /**
   * A hint for consumers that seldom look at values (the followers, which mostly use what the
   * in-process projector handed on): an adapter may read a record's key, value, headers and
   * timestamp only when one of them is first used. Adapters that receive values anyway (Kafka)
   * ignore it. @default false
   */
  lazyValues?: boolean;
}

export interface PollOptions {
  /** @default 500 */
  maxRecords?: number;
  /** How long to wait for data when none is there. @default 1000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * A member of a consumer group. Records arrive in offset order per partition; a redelivery after a
 * crash or rebalance starts at the last committed offset, so processing must be idempotent.
 */
export interface LogConsumer {
  /** Up to maxRecords records from the assigned partitions; [] on timeout. Wakes up as soon as data is appended. */
  poll(options?: PollOptions): Promise<StoredRecord[]>;
  /** Commit next-to-read offsets. */
  commit(offsets: PartitionOffset[]): Promise<void>;
  /** Partitions currently assigned to this member. */
  assignment(): number[];
  /** Leave the group; its partitions move to the other members. */
  close(): Promise<void>;
}

export interface EventLog {
  /** Create the topic, or check that the existing one matches the spec (fails loudly if not). */
  ensureTopic(spec: TopicSpec): Promise<void>;
  /** Append records atomically; resolves once they are durable. One result per record, same order. */
  append(topic: string, records: LogRecord[], options?: AppendOptions): Promise<AppendResult[]>;
  /** Read from one partition, starting at fromOffset (inclusive). */
  read(topic: string, partition: number, fromOffset: number, maxRecords: number): Promise<StoredRecord[]>;
  /** Next offset to be written, per partition (index = partition). */
  endOffsets(topic: string): Promise<number[]>;
  /** Committed offsets of a group (next to read), per partition; 0 where nothing is committed. */
  committedOffsets(group: string, topic: string): Promise<number[]>;
  consumer(options: ConsumerOptions): LogConsumer;
  /** As KvStore.refreshSnapshot: the next read sees every append committed so far, by any thread. Absent: reads are always current. */
  refreshSnapshot?(): void;
  close(): Promise<void>;
}
