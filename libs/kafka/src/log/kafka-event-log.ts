/**
 * The distributed EventLog: Apache Kafka through kafkajs (DESIGN.md sections 1 and 3). It passes
 * the same contract suite as the embedded LMDB log (libs/testing/src/contracts/event-log.contract.ts).
 *
 * - Records go to the partition the caller chose (the entity's murmur2 partition, computed by the
 *   pipeline); the record key is the event id, so compaction only removes repeated deliveries.
 * - Plain appends share idempotent acks=all produce requests (kafka-producer.ts). An append is
 *   validated in full before anything is sent, so an invalid record stores nothing; a broker that
 *   fails mid-request may have stored part of a multi-partition append, which the caller sees as a
 *   `log_unavailable` error and retries with the same event ids (the sequencer drops the copies).
 * - Appends with `commit` run in a Kafka transaction with `sendOffsets`; every reader is
 *   read_committed. Transaction markers take offsets, so offsets are increasing but not always
 *   consecutive (the contract allows it).
 * - `dedupe` is best effort within a per-partition window (dedupe-window.ts).
 */
import kafkajs, { type Admin, type LogEntry } from 'kafkajs';
import { EngramError, ValidationError } from '@engram/core';
import {
  checkName,
  checkOffsets,
  checkPartition,
  checkRecord,
  type AppendOptions,
  type AppendResult,
  type ConsumerOptions,
  type EventLog,
  type LogConsumer,
  type LogRecord,
  type StoredRecord,
  type TopicSpec,
} from '@engram/ports';
import { DedupeWindows } from './dedupe-window.js';
import { KafkaLogConsumer } from './kafka-consumer.js';
import { fromKafkaError, retryingKafka, withTimeout } from './kafka-errors.js';
import { BatchingProducer, TransactionalProducer } from './kafka-producer.js';
import { PartitionReader } from './kafka-reader.js';
import { TopicCatalog } from './kafka-topics.js';

// kafkajs is CommonJS: Node sees only its default export, so values come from there.
const { Kafka, logLevel: KafkaLogLevel } = kafkajs;

export interface KafkaLogEntry {
  level: 'error' | 'warn' | 'info' | 'debug';
  message: string;
  extra: Record<string, unknown>;
}

export interface KafkaEventLogOptions {
  /** Bootstrap servers, `host:port` (ENGRAM_KAFKA_BROKERS). */
  brokers: string[];
  /** @default 'engram' */
  clientId?: string;
  /**
   * The sequencer's transactional id. It must be stable across restarts of one enrichment worker
   * (a restart fences the old instance) and different between instances.
   * @default `${clientId}-sequencer`
   */
  transactionalId?: string;
  /** Records per partition remembered for `dedupe`. @default 10000 */
  dedupeWindow?: number;
  /** Bound on one broker operation (append, commit, metadata); past it the call fails with `log_unavailable`. @default 10000 */
  requestTimeoutMs?: number;
  /** How long a silent group member keeps its partitions. @default 10000 */
  sessionTimeoutMs?: number;
  /** Receives kafkajs' own log lines (warn and above by default). */
  onLog?: (entry: KafkaLogEntry) => void;
}

const LEVELS: Record<number, KafkaLogEntry['level']> = {
  [KafkaLogLevel.ERROR]: 'error',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

export function createKafkaEventLog(options: KafkaEventLogOptions): EventLog {
  if (!Array.isArray(options.brokers) || options.brokers.length === 0) {
    throw new ValidationError('invalid_option', 'brokers must list at least one host:port', { brokers: options.brokers });
  }
  const clientId = options.clientId ?? 'engram';
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const kafka = new Kafka({
    clientId,
    brokers: options.brokers,
    connectionTimeout: Math.min(3_000, requestTimeoutMs),
    requestTimeout: requestTimeoutMs,
    retry: { retries: 5, maxRetryTime: 2_000 },
    logLevel: KafkaLogLevel.WARN,
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, ...extra } = log;
        // Retries are bounded on purpose (a down broker must fail an append, not hang it) and a
        // producer is replaced after a failed send, so kafkajs' warning about it is only noise.
        const quiet = message.startsWith('Limiting retries for the idempotent producer');
        options.onLog?.({ level: quiet ? 'debug' : (LEVELS[level] ?? 'info'), message, extra });
      },
  });
  const admin: Admin = kafka.admin();
  const adminReady = admin.connect();
  adminReady.catch(() => undefined);
  const catalog = new TopicCatalog(admin);
  const reader = new PartitionReader(kafka);
  const settings = { requestTimeoutMs, transactionalId: options.transactionalId ?? `${clientId}-sequencer` };
  const producer = new BatchingProducer(kafka, settings);
  const transactional = new TransactionalProducer(kafka, settings);
  const windows = new DedupeWindows(options.dedupeWindow ?? 10_000);
  const consumers = new Set<KafkaLogConsumer>();
  let closed = false;

  const assertOpen = (): void => {
    if (closed) throw new EngramError('log_closed', 'the Kafka event log is closed');
  };
  /** Admin calls after the admin client connected, bounded and translated. */
  const withAdmin = async <T>(what: string, topic: string | undefined, call: () => Promise<T>): Promise<T> => {
    assertOpen();
    try {
      await withTimeout(adminReady, requestTimeoutMs, 'connecting to Kafka');
      // Admin calls only read or create idempotently: a leader that moved or a topic whose
      // metadata is still spreading (right after creation) is retried within the bound.
      return await withTimeout(retryingKafka(call, requestTimeoutMs), requestTimeoutMs, what);
    } catch (error) {
      throw fromKafkaError(error, what, topic);
    }
  };

  const endOffsets = async (topic: string): Promise<number[]> => {
    const { partitions } = await withAdmin(`describe ${topic}`, topic, () => catalog.shape(topic));
    const offsets = await withAdmin(`end offsets of ${topic}`, topic, () => admin.fetchTopicOffsets(topic));
    const ends = new Array<number>(partitions).fill(0);
    for (const { partition, offset } of offsets) ends[partition] = Number(offset);
    return ends;
  };

  async function appendDeduped(topic: string, records: LogRecord[], send: (fresh: LogRecord[]) => Promise<number[]>): Promise<AppendResult[]> {
    const partitions = [...new Set(records.map((r) => r.partition))];
    const loaded = await Promise.all(
      partitions.map(async (p) => [p, await windows.window(topic, p, async () => (await endOffsets(topic))[p]!, (part, from, max) => reader.read(topic, part, from, max))] as const),
    );
    const byPartition = new Map(loaded);
    // No await from here to the send: the check and the entry of new keys are one step. Fresh
    // records share one pending position promise (an array of offsets, in `fresh` order).
    const fresh: LogRecord[] = [];
    const duplicateOf: Array<Promise<number> | number | undefined> = [];
    const freshIndex: number[] = [];
    let settle!: { resolve(offsets: number[]): void; reject(error: unknown): void };
    const sent = new Promise<number[]>((resolve, reject) => (settle = { resolve, reject }));
    sent.catch(() => undefined);
    for (const record of records) {
      const window = byPartition.get(record.partition)!;
      const known = window.keys.get(record.key);
      if (known !== undefined) {
        duplicateOf.push(known);
        freshIndex.push(-1);
        continue;
      }
      const index = fresh.length;
      const position = sent.then((offsets) => offsets[index]!);
      position.catch(() => undefined); // a failed append's keys leave the window; nobody awaits this
      window.add(record.key, position);
      duplicateOf.push(undefined);
      freshIndex.push(index);
      fresh.push(record);
    }
    let offsets: number[];
    try {
      // Even with nothing fresh, `send` runs: an append that carries a commit must still commit.
      offsets = await send(fresh);
      settle.resolve(offsets);
    } catch (error) {
      fresh.forEach((r) => byPartition.get(r.partition)!.keys.delete(r.key));
      settle.reject(error);
      throw error;
    }
    const results: AppendResult[] = [];
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      const index = freshIndex[i]!;
      // A duplicate of a concurrent append waits for that append's offset.
      const offset = index >= 0 ? offsets[index]! : await duplicateOf[i]!;
      results.push({ partition: record.partition, offset, duplicate: index < 0 });
    }
    return results;
  }

  return {
    ensureTopic: (spec: TopicSpec) => withAdmin(`ensure topic ${spec.name}`, spec.name, () => catalog.ensure(spec)),

    async append(topic: string, records: LogRecord[], appendOptions: AppendOptions = {}): Promise<AppendResult[]> {
      assertOpen();
      if (!Array.isArray(records)) throw new ValidationError('invalid_record', 'records must be an array');
      const shape = await withAdmin(`describe ${topic}`, topic, () => catalog.shape(topic));
      records.forEach((r, i) => checkRecord(topic, shape, r, i));
      const { commit } = appendOptions;
      if (commit !== undefined) {
        checkName('group', commit.group);
        checkOffsets(commit.topic, await withAdmin(`describe ${commit.topic}`, commit.topic, () => catalog.shape(commit.topic)), commit.offsets);
        // Initialise (and fence) first, so a dedupe window loaded next sees every settled attempt.
        await transactional.ready();
      }
      const send = async (batch: LogRecord[]): Promise<number[]> => {
        if (commit === undefined) return batch.length === 0 ? [] : producer.send(topic, batch);
        try {
          return await transactional.send(topic, batch, commit);
        } catch (error) {
          windows.clear(); // the attempt's outcome is settled only after the next initialisation
          throw error;
        }
      };
      if (appendOptions.dedupe === true) return appendDeduped(topic, records, send);
      const offsets = await send(records);
      return records.map((r, i) => ({ partition: r.partition, offset: offsets[i]!, duplicate: false }));
    },

    async read(topic: string, partition: number, fromOffset: number, maxRecords: number): Promise<StoredRecord[]> {
      const shape = await withAdmin(`describe ${topic}`, topic, () => catalog.shape(topic));
      checkPartition(topic, shape, partition);
      return reader.read(topic, partition, Math.max(0, fromOffset), maxRecords);
    },

    endOffsets,

    async committedOffsets(group: string, topic: string): Promise<number[]> {
      checkName('group', group);
      const { partitions } = await withAdmin(`describe ${topic}`, topic, () => catalog.shape(topic));
      const [fetched] = await withAdmin(`committed offsets of ${group}`, topic, () => admin.fetchOffsets({ groupId: group, topics: [topic] }));
      const offsets = new Array<number>(partitions).fill(0);
      for (const { partition, offset } of fetched?.partitions ?? []) offsets[partition] = Math.max(0, Number(offset));
      return offsets;
    },

    consumer(consumerOptions: ConsumerOptions): LogConsumer {
      assertOpen();
      const consumer = new KafkaLogConsumer(kafka, consumerOptions, {
        sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000,
        requestTimeoutMs,
        onRebalance: () => windows.clear(),
      });
      consumers.add(consumer);
      const close = consumer.close.bind(consumer);
      consumer.close = async () => {
        consumers.delete(consumer);
        await close();
      };
      return consumer;
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await Promise.all([...consumers].map((c) => c.close()));
      await Promise.all([producer.close(), transactional.close(), reader.close(), admin.disconnect().catch(() => undefined)]);
    },
  };
}
