/**
 * The sequencer's transaction on Kafka, the adapter beside raw kafkajs (bench/kafka.bench.ts part
 * 2b). Each transaction appends a batch over every partition and commits consumed offsets with it,
 * as the enrichment worker does. Sides take turns in blocks of back-to-back transactions; the
 * broker's CONCURRENT_TRANSACTIONS answers (a transaction started before the previous one's
 * markers were written; kafkajs retries after its retry pause) are counted per side.
 */
import kafkajs, { type Admin, type Kafka } from 'kafkajs';
import { createKafkaEventLog } from '@engram/kafka';
import { createTopic, isConcurrentTransactionsResponse, kafkaLogCounts, type PartitionedMessage } from './raw-kafka.js';
import type { Metrics } from './runner.js';
import { percentile } from './stats.js';
import { nowMs } from './timer.js';

// kafkajs is CommonJS: Node sees only its default export.
const { Partitioners } = kafkajs;

export interface TransactionTimes {
  /** Transactions per second: count / the summed time of the timed transactions. */
  perSecond: number;
  latenciesMs: number[];
}

/**
 * Times `count` transactions of each side after `warmup` untimed ones per side. Sides take turns
 * in blocks of `block` back-to-back transactions: back to back is the sequencer's pattern (the next
 * transaction starts as soon as the last one committed), and turns spread the load that other
 * processes put on the shared cores and broker over every side alike.
 */
export async function alternateTransactions(sides: Record<string, (i: number) => Promise<void>>, count: number, warmup: number, block = 10): Promise<Record<string, TransactionTimes>> {
  const entries = Object.entries(sides);
  for (const [, transact] of entries) for (let i = 0; i < warmup; i++) await transact(i);
  const latencies = new Map<string, number[]>(entries.map(([name]) => [name, []]));
  for (let first = warmup; first < warmup + count; first += block) {
    for (const [name, transact] of entries) {
      for (let i = first; i < Math.min(first + block, warmup + count); i++) {
        const t0 = nowMs();
        await transact(i);
        latencies.get(name)!.push(nowMs() - t0);
      }
    }
  }
  return Object.fromEntries(
    [...latencies].map(([name, ms]) => [name, { perSecond: (ms.length * 1000) / ms.reduce((a, b) => a + b, 0), latenciesMs: ms }]),
  );
}

export interface RawTransactor {
  /** One transaction: append `messages(i)` to the topic and commit offset `i + 1` of partition `i % partitions` of the source topic. */
  transact(i: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The raw side of the sequencer's transaction: a kafkajs transactional producer (send +
 * sendOffsets + commit). `initialRetryTimeMs` is kafkajs' first retry pause; its default, 300 ms,
 * is what the adapter inherits.
 */
export async function createRawTransactor(
  kafka: Kafka,
  options: { topic: string; sourceTopic: string; group: string; transactionalId: string; partitions: number; initialRetryTimeMs?: number },
  messages: (i: number) => PartitionedMessage[],
): Promise<RawTransactor> {
  const retry = { retries: 5, maxRetryTime: 2_000, ...(options.initialRetryTimeMs === undefined ? {} : { initialRetryTime: options.initialRetryTimeMs }) };
  const producer = kafka.producer({ transactionalId: options.transactionalId, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, retry, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  return {
    async transact(i) {
      const transaction = await producer.transaction();
      try {
        await transaction.send({ topic: options.topic, acks: -1, messages: messages(i) });
        await transaction.sendOffsets({ consumerGroupId: options.group, topics: [{ topic: options.sourceTopic, partitions: [{ partition: i % options.partitions, offset: String(i + 1) }] }] });
        await transaction.commit();
      } catch (error) {
        await transaction.abort().catch(() => undefined);
        throw error;
      }
    },
    close: () => producer.disconnect(),
  };
}

export interface TransactionComparison {
  /** Topics are created as `<prefix>txn-…`. */
  prefix: string;
  brokers: string[];
  partitions: number;
  /** Records per transaction (the sequencer's batch). */
  records: number;
  /** Timed transactions per side. */
  count: number;
}

/**
 * The sequencer's transaction alone — `records` records over every partition plus consumed
 * offsets, committed together: the adapter's `append(…, { dedupe, commit })` vs a raw kafkajs
 * transactional producer, with kafkajs' first retry pause (300 ms, what the adapter inherits) and
 * with a 20 ms one; `messages` supplies the record bodies (cycled, re-keyed). Metrics per side
 * (`ours`, `raw`, `raw20`): `txn.<side>PerS`, `P50Ms`, `P99Ms`, `ConcurrentRetries`.
 */
export async function compareTransactions(kafka: Kafka, admin: Admin, options: TransactionComparison, messages: PartitionedMessage[]): Promise<Metrics> {
  const { prefix, partitions, records: txnRecords, count: txnCount } = options;
  const source = `${prefix}txn-source`;
  for (const t of [source, `${prefix}txn-ours`, `${prefix}txn-raw`, `${prefix}txn-raw20`]) await createTopic(admin, t, partitions);
  const batch = (i: number): PartitionedMessage[] => Array.from({ length: txnRecords }, (_, j) => ({ ...messages[(i * txnRecords + j) % messages.length]!, key: `t${i}-${j}` }));
  const retries: Record<string, number> = { ours: 0, raw: 0, raw20: 0 };
  const log = createKafkaEventLog({
    brokers: options.brokers,
    clientId: 'engram-bench',
    transactionalId: `${prefix}txn-ours`,
    onLog: ({ message, extra }) => void (isConcurrentTransactionsResponse(message, extra.error) && retries.ours!++),
  });
  const raws = {
    raw: await createRawTransactor(kafka, { topic: `${prefix}txn-raw`, sourceTopic: source, group: `${prefix}txn-raw`, transactionalId: `${prefix}txn-raw`, partitions }, batch),
    raw20: await createRawTransactor(kafka, { topic: `${prefix}txn-raw20`, sourceTopic: source, group: `${prefix}txn-raw20`, transactionalId: `${prefix}txn-raw20`, partitions, initialRetryTimeMs: 20 }, batch),
  };
  /** Counts the CONCURRENT_TRANSACTIONS answers the raw clients log during `transact`. */
  const counted = (name: 'raw' | 'raw20') => async (i: number): Promise<void> => {
    const before = kafkaLogCounts.concurrentTransactions;
    await raws[name].transact(i);
    retries[name]! += kafkaLogCounts.concurrentTransactions - before;
  };
  try {
    const times = await alternateTransactions(
      {
        ours: async (i) => {
          const records = batch(i).map((r) => ({ key: String(r.key), partition: r.partition, value: r.value as Buffer, headers: r.headers as Record<string, string> }));
          await log.append(`${prefix}txn-ours`, records, { dedupe: true, commit: { group: `${prefix}txn-ours`, topic: source, offsets: [{ partition: i % partitions, offset: i + 1 }] } });
        },
        raw: counted('raw'),
        raw20: counted('raw20'),
      },
      txnCount,
      5,
    );
    const m: Metrics = {};
    for (const [name, t] of Object.entries(times)) {
      m[`txn.${name}PerS`] = t.perSecond;
      m[`txn.${name}P50Ms`] = percentile(t.latenciesMs, 50);
      m[`txn.${name}P99Ms`] = percentile(t.latenciesMs, 99);
      m[`txn.${name}ConcurrentRetries`] = retries[name]!;
    }
    return m;
  } finally {
    await log.close();
    await raws.raw.close();
    await raws.raw20.close();
  }
}
