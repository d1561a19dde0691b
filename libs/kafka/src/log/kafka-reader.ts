/**
 * Random access to one partition: `EventLog.read(topic, partition, from, max)`. kafkajs has no
 * public "assign and fetch" API (only group consumers, which must join a group before they can
 * seek), so this reader sends Fetch requests through a kafkajs Cluster of its own, created by the
 * client's private factory, and filters the answer with kafkajs' own `Batch` (drops control records
 * and records of aborted transactions). Isolation is READ_COMMITTED, like every consumer here.
 *
 * These are kafkajs internals; kafkajs 2.2.4 is its last release and is pinned exactly, and the
 * adapter's contract suite exercises this path against a real broker.
 */
import { createRequire } from 'node:module';
import type { Kafka } from 'kafkajs';
import type { StoredRecord } from '@engram/ports';
import { fromKafkaError } from './kafka-errors.js';
import { toStoredRecord, type KafkaMessageLike } from './kafka-records.js';

const require = createRequire(import.meta.url);

interface FetchedPartition {
  partition: number;
  highWatermark: string;
  lastStableOffset: string;
  messages: KafkaMessageLike[];
}
interface InternalBroker {
  fetch(request: {
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; fetchOffset: string; maxBytes: number }> }>;
  }): Promise<{ responses: Array<{ topicName: string; partitions: FetchedPartition[] }> }>;
}
interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(query: { nodeId: string }): Promise<InternalBroker>;
}
interface InternalBatch {
  messages: KafkaMessageLike[];
  isEmptyIncludingFiltered(): boolean;
  lastOffset(): string;
}
type BatchClass = new (topic: string, fetchedOffset: string, partitionData: FetchedPartition) => InternalBatch;

const Batch = require('kafkajs/src/consumer/batch.js') as BatchClass;
const READ_COMMITTED = 1;

function createCluster(kafka: Kafka): InternalCluster {
  const factory = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  if (factory === undefined) throw new Error('kafkajs internals changed: the client has no private createCluster factory');
  const create = (kafka as unknown as Record<symbol, (options: object) => InternalCluster>)[factory]!;
  return create({ metadataMaxAge: 60_000, allowAutoTopicCreation: false, isolationLevel: READ_COMMITTED });
}

export class PartitionReader {
  private readonly cluster: InternalCluster;
  private connected: Promise<void> | undefined;

  constructor(kafka: Kafka, private readonly maxBytes = 4 * 1024 * 1024) {
    this.cluster = createCluster(kafka);
  }

  /** Up to `maxRecords` committed records of one partition from `fromOffset` on (compaction gaps skipped). */
  async read(topic: string, partition: number, fromOffset: number, maxRecords: number): Promise<StoredRecord[]> {
    const out: StoredRecord[] = [];
    if (maxRecords <= 0) return out;
    try {
      this.connected ??= this.cluster.connect();
      await this.connected;
      await this.cluster.addTargetTopic(topic);
      const broker = await this.leader(topic, partition);
      let next = fromOffset;
      while (out.length < maxRecords) {
        const data = await this.fetchOnce(broker, topic, partition, next);
        const batch = new Batch(topic, String(next), data);
        for (const message of batch.messages) {
          if (out.length >= maxRecords) break;
          out.push(toStoredRecord(topic, partition, message));
        }
        // Nothing at or after `next` below the last stable offset: the committed end is reached.
        if (batch.isEmptyIncludingFiltered()) break;
        next = Number(batch.lastOffset()) + 1;
        const stable = Number(data.lastStableOffset) >= 0 ? Number(data.lastStableOffset) : Number(data.highWatermark);
        if (next >= stable) break;
      }
      return out;
    } catch (error) {
      throw fromKafkaError(error, `read ${topic}/${partition} from ${fromOffset}`, topic);
    }
  }

  async close(): Promise<void> {
    if (this.connected !== undefined) await this.cluster.disconnect();
  }

  private async leader(topic: string, partition: number): Promise<InternalBroker> {
    const [nodeId] = Object.keys(this.cluster.findLeaderForPartitions(topic, [partition]));
    if (nodeId === undefined) throw new Error(`no leader for ${topic}/${partition}`);
    return this.cluster.findBroker({ nodeId });
  }

  private async fetchOnce(broker: InternalBroker, topic: string, partition: number, offset: number): Promise<FetchedPartition> {
    const { responses } = await broker.fetch({
      isolationLevel: READ_COMMITTED,
      maxWaitTime: 0,
      minBytes: 1,
      maxBytes: this.maxBytes,
      topics: [{ topic, partitions: [{ partition, fetchOffset: String(offset), maxBytes: this.maxBytes }] }],
    });
    const data = responses[0]?.partitions.find((p) => p.partition === partition);
    if (data === undefined) throw new Error(`the broker answered no data for ${topic}/${partition}`);
    return data;
  }
}
