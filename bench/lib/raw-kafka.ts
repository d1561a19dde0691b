/**
 * The raw-Kafka baselines for the Kafka benchmark, straight on kafkajs (the client Engram's log
 * uses), against the same broker:
 *
 * - {@link rawProduce}: an idempotent producer (acks=-1) sending the records Engram's ingest
 *   appends — same keys, Avro values, partitions and headers — in batches of N with C `send()`
 *   calls in flight, into a fresh topic shaped like Engram's (same partitions, compacted);
 * - {@link rawConsume}: a consumer group reading a topic from the beginning with `eachBatch`,
 *   read_committed, autoCommit off, committing each batch's offsets before taking the next.
 *
 * - {@link watchArrivals}: a consumer noting when each record of a topic arrives (a stage of
 *   POST → visible).
 *
 * Plus the admin chores: topics of a run are created and deleted here, and a group's committed
 * offsets read (how the benchmark sees that the sequencer has caught up); and a kafkajs client
 * whose CONCURRENT_TRANSACTIONS log lines are counted (bench/lib/kafka-transactions.ts).
 */
import kafkajs, { type Admin, type Kafka, type Message } from 'kafkajs';
import { encodeEntityId, partitionForEntity } from '@engram/core';
import type { EventInput } from './memory-events.js';
import type { RawRecord } from './raw-lmdb.js';
import { nowMs } from './timer.js';

// kafkajs is CommonJS: Node sees only its default export.
const { Kafka: KafkaClient, logLevel, Partitioners } = kafkajs;

/**
 * True for kafkajs' log line of a broker response CONCURRENT_TRANSACTIONS: a transaction started
 * before the markers of the previous one were written; kafkajs retries after its retry pause.
 * (kafkajs logs the response once, as `Response AddPartitionsToTxn…`, and the retry once more.)
 */
export function isConcurrentTransactionsResponse(message: string, error: unknown): boolean {
  return message.startsWith('Response ') && String(error ?? '').includes(CONCURRENT_TRANSACTIONS_TEXT);
}

const CONCURRENT_TRANSACTIONS_TEXT = 'another concurrent operation on the same transaction';

/** kafkajs log lines of the bench's clients that are counted, not printed. */
export const kafkaLogCounts = { concurrentTransactions: 0 };

/**
 * A kafkajs client printing its warnings and errors, except its notice about bounded idempotent
 * retries (the raw transactional producer bounds them as the adapter does) and the retried
 * CONCURRENT_TRANSACTIONS answers, which are counted in {@link kafkaLogCounts} instead (one per response).
 */
export function createBenchKafka(brokers: string[], clientId: string): Kafka {
  return new KafkaClient({
    clientId,
    brokers,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ namespace, level, log }) => {
        if (log.message.startsWith('Limiting retries for the idempotent producer')) return;
        if (`${log.message} ${String(log.error ?? '')}`.includes(CONCURRENT_TRANSACTIONS_TEXT)) {
          if (isConcurrentTransactionsResponse(log.message, log.error)) kafkaLogCounts.concurrentTransactions++;
          return;
        }
        console.warn(`kafkajs ${level === logLevel.ERROR ? 'error' : 'warn'} [${namespace}] ${log.message}${log.error === undefined ? '' : `: ${String(log.error)}`}`);
      },
  });
}

/** One record as a kafkajs message with its partition: what Engram's ingest appends for an event. */
export type PartitionedMessage = Message & { partition: number };

/**
 * The messages ingest appends for `inputs` of `tenant`: key and value from {@link encodeLogRecords}
 * (`events`), the entity's murmur2 partition, and the same headers (no traceparent: the bench sends none).
 */
export function ingestMessages(inputs: EventInput[], events: RawRecord[], tenant: string, partitions: number): PartitionedMessage[] {
  return inputs.map((input, i) => ({
    key: events[i]!.key,
    value: events[i]!.value,
    partition: partitionForEntity(encodeEntityId({ tenant, namespace: input.namespace, key: input.key }), partitions),
    headers: { tenant, 'event-type': input.type },
  }));
}

/** Creates `topic` as Engram's log creates its topics: `partitions` partitions, compacted. */
export async function createTopic(admin: Admin, topic: string, partitions: number): Promise<void> {
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
  });
}

/** Deletes every topic whose name starts with `prefix` (a run's topics); errors are left to the caller. */
export async function deleteTopics(admin: Admin, prefix: string): Promise<void> {
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
  if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
}

/** Records `group` has committed on `topic`, summed over partitions, and the records it holds (end offsets). */
export async function groupProgress(admin: Admin, group: string, topic: string): Promise<{ committed: number; end: number }> {
  const [ends, [committed]] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId: group, topics: [topic] })]);
  return {
    end: ends.reduce((s, p) => s + Number(p.offset), 0),
    committed: (committed?.partitions ?? []).reduce((s, p) => s + Math.max(0, Number(p.offset)), 0),
  };
}

export interface RawProduceOptions {
  batchSize: number;
  /** `send()` calls in flight. */
  concurrency: number;
  /** Messages sent (and acknowledged) before the timed ones: connections, metadata, JIT. */
  warmup: PartitionedMessage[];
}

export interface RawProduceResult {
  perSecond: number;
  /** One latency per `send()` (a batch), in ms. */
  latenciesMs: number[];
  /** CPU µs per message in this process while timed. */
  cpuUsPerEvent: number;
}

/** Sends `messages` to `topic` as described above; connecting and the warm-up are not timed. */
export async function rawProduce(kafka: Kafka, topic: string, messages: PartitionedMessage[], options: RawProduceOptions): Promise<RawProduceResult> {
  const producer = kafka.producer({ idempotent: true, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    const sendAll = async (list: PartitionedMessage[], latenciesMs: number[]): Promise<void> => {
      const batches = Math.ceil(list.length / options.batchSize);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < batches) {
          const b = next++;
          const t0 = nowMs();
          await producer.send({ topic, acks: -1, messages: list.slice(b * options.batchSize, (b + 1) * options.batchSize) });
          latenciesMs.push(nowMs() - t0);
        }
      };
      await Promise.all(Array.from({ length: Math.min(options.concurrency, batches) }, worker));
    };
    await sendAll(options.warmup, []);
    const latenciesMs: number[] = [];
    const cpu = process.cpuUsage();
    const start = nowMs();
    await sendAll(messages, latenciesMs);
    const ms = nowMs() - start;
    const used = process.cpuUsage(cpu);
    return { perSecond: (messages.length * 1000) / ms, latenciesMs, cpuUsPerEvent: (used.user + used.system) / messages.length };
  } finally {
    await producer.disconnect();
  }
}

export interface RawConsumeResult {
  /** Records per second from the end of the first batch to the commit of the last. */
  perSecond: number;
  /** From `run()` (joining the group) to the commit of the last record, in ms. */
  totalMs: number;
  batches: number;
}

/**
 * Reads `topic` from the beginning in a fresh group until `expected` records arrived, committing
 * each batch (next offset of its partition) before kafkajs hands out the next one. The rate leaves
 * out the group join and the first fetch, as the projection's does (bench/kafka.bench.ts).
 */
export async function rawConsume(kafka: Kafka, topic: string, group: string, expected: number, timeoutMs: number): Promise<RawConsumeResult> {
  const consumer = kafka.consumer({ groupId: group, readUncommitted: false, maxWaitTimeInMs: 500, allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let seen = 0;
    let batches = 0;
    let first: { at: number; seen: number } | undefined;
    const start = nowMs();
    const done = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`raw consumer: ${seen} of ${expected} records after ${timeoutMs} ms`)), timeoutMs);
      void consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          if (batch.isEmpty()) return;
          await consumer.commitOffsets([{ topic, partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) }]);
          seen += batch.messages.length;
          batches++;
          first ??= { at: nowMs(), seen };
          if (seen >= expected) {
            clearTimeout(timer);
            resolve(nowMs());
          }
        },
      });
    });
    const end = await done;
    const f = first!;
    return { perSecond: end > f.at ? ((expected - f.seen) * 1000) / (end - f.at) : Number.NaN, totalMs: end - start, batches };
  } finally {
    await consumer.disconnect();
  }
}

export interface ArrivalWatch {
  /** When (nowMs) each record key was first delivered. */
  arrivals: Map<string, number>;
  stop(): Promise<void>;
}

/**
 * A read_committed consumer in a fresh group noting when each record of `topic` appended from now
 * on arrives (resolves once it has joined and fetched, so nothing appended afterwards is missed).
 */
export async function watchArrivals(kafka: Kafka, topic: string, group: string): Promise<ArrivalWatch> {
  const consumer = kafka.consumer({ groupId: group, readUncommitted: false, maxWaitTimeInMs: 100, allowAutoTopicCreation: false });
  const arrivals = new Map<string, number>();
  const fetched = new Promise<void>((resolve) => consumer.on(consumer.events.FETCH, () => resolve()));
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: false });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const at = nowMs();
      for (const m of batch.messages) {
        const key = m.key?.toString('utf8');
        if (key !== undefined && !arrivals.has(key)) arrivals.set(key, at);
      }
    },
  });
  await fetched;
  return { arrivals, stop: () => consumer.disconnect() };
}
