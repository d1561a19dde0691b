/**
 * The two ways records reach Kafka.
 *
 * `BatchingProducer` (ingest): an idempotent producer (acks=all) that groups every append arriving
 * while the previous send is in flight into one `sendBatch`, so concurrent HTTP requests share a
 * produce request instead of each paying a round trip (group commit). A record's offset is its
 * partition's base offset plus its position among that partition's records in the request, which
 * keeps each append's records contiguous per partition.
 *
 * `TransactionalProducer` (the sequencer): consume-transform-produce in one Kafka transaction —
 * the output records and the input offsets (`sendOffsets`) commit together or not at all, and
 * read_committed consumers never see an aborted attempt. A restarted sequencer with the same
 * transactional id fences its predecessor and aborts its open transaction.
 *
 * After a failed send either producer is thrown away and recreated on next use: a producer whose
 * send gave up mid-retry can hold stale sequence numbers.
 */
import kafkajs, { type Kafka, type Message, type Producer, type RecordMetadata } from 'kafkajs';
import type { LogRecord, PartitionOffset } from '@engram/ports';
import { fromKafkaError, retryingKafka, withTimeout } from './kafka-errors.js';
import { toKafkaMessage } from './kafka-records.js';

// kafkajs is CommonJS: Node sees only its default export, so values come from there. Records carry
// an explicit partition, so the partitioner is never consulted; naming one silences kafkajs' v2 notice.
const { Partitioners } = kafkajs;
const createPartitioner = Partitioners.DefaultPartitioner;

export interface ProducerSettings {
  /** Bound on one send (kafkajs retries inside it). */
  requestTimeoutMs: number;
  transactionalId: string;
}

interface Pending {
  topic: string;
  records: LogRecord[];
  resolve(offsets: number[]): void;
  reject(error: unknown): void;
}

/** Offsets for `appends`, in order, from the base offsets a send reported per topic-partition. */
function assignOffsets(appends: Array<{ topic: string; records: LogRecord[] }>, metadata: RecordMetadata[]): number[][] {
  const next = new Map<string, number>();
  for (const m of metadata) next.set(`${m.topicName}\0${m.partition}`, Number(m.baseOffset));
  return appends.map(({ topic, records }) =>
    records.map((r) => {
      const id = `${topic}\0${r.partition}`;
      const offset = next.get(id);
      if (offset === undefined) throw new Error(`the broker reported no offset for ${topic}/${r.partition}`);
      next.set(id, offset + 1);
      return offset;
    }),
  );
}

/** Connects a producer on first use and forgets it after a failure. */
class ProducerSlot {
  private producer: Promise<Producer> | undefined;

  constructor(private readonly create: () => Producer, private readonly prepare: (p: Producer) => Promise<void> = async () => undefined) {}

  get(): Promise<Producer> {
    if (this.producer === undefined) {
      const producer = this.create();
      this.producer = producer.connect().then(async () => {
        await this.prepare(producer);
        return producer;
      });
      this.producer.catch(() => this.reset());
    }
    return this.producer;
  }

  reset(): void {
    const old = this.producer;
    this.producer = undefined;
    old?.then((p) => p.disconnect()).catch(() => undefined);
  }

  async close(): Promise<void> {
    const old = this.producer;
    this.producer = undefined;
    if (old !== undefined) await old.then((p) => p.disconnect()).catch(() => undefined);
  }
}

export class BatchingProducer {
  private queue: Pending[] = [];
  private flushing = false;
  private readonly slot: ProducerSlot;

  constructor(kafka: Kafka, private readonly settings: ProducerSettings) {
    this.slot = new ProducerSlot(() => kafka.producer({ createPartitioner, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, retry: { retries: 5, maxRetryTime: 2_000 } }));
  }

  /**
   * Resolves with one offset per record once the whole request that carried them is acknowledged.
   * Rejects with `log_unavailable` after `requestTimeoutMs` from the call: an append still queued
   * then is dropped unsent; one already in a request may still land (the caller re-sends with the
   * same ids, and the sequencer drops the copy).
   */
  send(topic: string, records: LogRecord[]): Promise<number[]> {
    const sent = new Promise<number[]>((resolve, reject) => {
      this.queue.push({ topic, records, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        // Appends made in this turn of the event loop join the first request too.
        setImmediate(() => void this.drain());
      }
    });
    return withTimeout(sent, this.settings.requestTimeoutMs, `append to ${topic}`).catch((error: unknown) => {
      this.queue = this.queue.filter((p) => p.records !== records);
      throw error;
    });
  }

  close(): Promise<void> {
    return this.slot.close();
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      await this.flush(batch);
    }
    this.flushing = false;
  }

  private async flush(batch: Pending[]): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    for (const { topic, records } of batch) {
      const messages = byTopic.get(topic) ?? [];
      for (const r of records) messages.push(toKafkaMessage(r));
      byTopic.set(topic, messages);
    }
    try {
      const topicMessages = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
      const request = async (): Promise<RecordMetadata[]> => (await this.slot.get()).sendBatch({ acks: -1, topicMessages });
      // Connecting counts against the bound too: a frozen broker must not hold the queue.
      const metadata = await withTimeout(request(), this.settings.requestTimeoutMs, 'append');
      const offsets = assignOffsets(batch, metadata);
      batch.forEach((p, i) => p.resolve(offsets[i]!));
    } catch (error) {
      this.slot.reset();
      for (const p of batch) p.reject(fromKafkaError(error, `append to ${p.topic}`, p.topic));
    }
  }
}

export class TransactionalProducer {
  private chain: Promise<unknown> = Promise.resolve();
  private readonly slot: ProducerSlot;

  constructor(kafka: Kafka, private readonly settings: ProducerSettings) {
    this.slot = new ProducerSlot(() =>
      kafka.producer({
        createPartitioner,
        transactionalId: settings.transactionalId,
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        // Back-to-back transactions meet CONCURRENT_TRANSACTIONS while the coordinator finishes the
        // previous one (a few ms): kafkajs' default first pause of 300 ms made that the p99.
        retry: { retries: 8, initialRetryTime: 20, maxRetryTime: 2_000 },
      }),
      // InitProducerId: fences an older producer with this transactional id and ends its open
      // transaction before this one starts, so what the log holds afterwards is settled.
      async (producer) => {
        const empty = await producer.transaction();
        await empty.abort();
      },
    );
  }

  /**
   * Resolves once the producer is initialised; after it, the outcome of any earlier attempt with
   * this transactional id (committed or aborted) is visible to read_committed readers.
   */
  async ready(): Promise<void> {
    try {
      await withTimeout(this.slot.get(), this.settings.requestTimeoutMs, 'starting the transactional producer');
    } catch (error) {
      this.slot.reset();
      throw fromKafkaError(error, 'start the transactional producer');
    }
  }

  /** Appends `records` and commits `commit`'s offsets in one transaction; transactions run one at a time. */
  send(topic: string, records: LogRecord[], commit: { group: string; topic: string; offsets: PartitionOffset[] }): Promise<number[]> {
    const run = this.chain.then(() => this.transact(topic, records, commit));
    this.chain = run.catch(() => undefined);
    return run;
  }

  close(): Promise<void> {
    return this.chain.then(() => this.slot.close());
  }

  private async transact(topic: string, records: LogRecord[], commit: { group: string; topic: string; offsets: PartitionOffset[] }): Promise<number[]> {
    const what = `transactional append to ${topic}`;
    const attempt = async (): Promise<number[]> => {
      await this.ready();
      const transaction = await (await this.slot.get()).transaction();
      try {
        const metadata = records.length === 0 ? [] : await transaction.send({ acks: -1, topic, messages: records.map(toKafkaMessage) });
        if (commit.offsets.length > 0) {
          await transaction.sendOffsets({
            consumerGroupId: commit.group,
            topics: [{ topic: commit.topic, partitions: commit.offsets.map(({ partition, offset }) => ({ partition, offset: String(offset) })) }],
          });
        }
        await transaction.commit();
        return assignOffsets([{ topic, records }], metadata)[0]!;
      } catch (error) {
        // Aborted, the attempt left nothing visible to read_committed readers: safe to run again.
        await transaction.abort().catch(() => this.slot.reset());
        throw error;
      }
    };
    try {
      return await withTimeout(retryingKafka(attempt, this.settings.requestTimeoutMs), this.settings.requestTimeoutMs, what);
    } catch (error) {
      this.slot.reset();
      throw fromKafkaError(error, what, topic);
    }
  }
}
