/**
 * The port's pull model (`poll`, `commit`) over kafkajs' push model (`run({ eachBatch })`).
 *
 * kafkajs fetches and calls `eachBatch` once per partition batch; each call queues its records as
 * a chunk and waits (heartbeating, so a slow worker keeps its membership) until `poll` has handed
 * all of them out. Only then is the batch resolved, i.e. kafkajs' fetch position moves past it.
 * Offsets are committed only by `commit` (autoCommit is off): a worker commits after its output is
 * durable, so a crash or rebalance redelivers from the last commit (DESIGN.md section 4).
 *
 * On a rebalance (GROUP_JOIN) every queued chunk is dropped undelivered: partitions may have moved,
 * and those that stay restart from their committed offsets. `assignment()` reports the new
 * partitions after the first fetch that follows the join, when their start offsets are resolved
 * (so a record appended after `assignment()` shows a partition is seen even by a group that starts
 * at the end). Isolation is read_committed: records of open or aborted transactions never arrive.
 */
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { EngramError } from '@engram/core';
import { checkName, type ConsumerOptions, type LogConsumer, type PartitionOffset, type PollOptions, type StoredRecord } from '@engram/ports';
import { fromKafkaError, withTimeout } from './kafka-errors.js';
import { toStoredRecord } from './kafka-records.js';

export interface KafkaConsumerSettings {
  sessionTimeoutMs: number;
  /** Bound on joining the group before a commit, and on the commit itself. */
  requestTimeoutMs: number;
  /** Called on every rebalance of this member (the log drops its dedupe windows). */
  onRebalance(): void;
}

interface Chunk {
  records: StoredRecord[];
  taken: number;
  handedOut(): void;
}

const HEARTBEAT_MS = 1_000;

export class KafkaLogConsumer implements LogConsumer {
  private readonly consumer: Consumer;
  private chunks: Chunk[] = [];
  private wakeUp: (() => void) | undefined;
  private assigned: number[] = [];
  private joinedAssignment: number[] | undefined;
  private closed = false;
  private failure: unknown;
  private readonly started: Promise<void>;
  private markJoined!: () => void;
  private readonly joined = new Promise<void>((resolve) => (this.markJoined = resolve));

  constructor(
    kafka: Kafka,
    private readonly options: ConsumerOptions,
    private readonly settings: KafkaConsumerSettings,
  ) {
    checkName('group', options.group);
    checkName('topic', options.topic);
    this.consumer = kafka.consumer({
      groupId: options.group,
      sessionTimeout: settings.sessionTimeoutMs,
      heartbeatInterval: HEARTBEAT_MS,
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: false,
      readUncommitted: false,
    });
    const { GROUP_JOIN, FETCH, CRASH } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, (event) => {
      this.dropChunks();
      this.joinedAssignment = [...(event.payload.memberAssignment[options.topic] ?? [])].sort((a, b) => a - b);
      settings.onRebalance();
    });
    this.consumer.on(FETCH, () => {
      if (this.joinedAssignment === undefined) return;
      this.assigned = this.joinedAssignment;
      this.joinedAssignment = undefined;
      this.markJoined();
      this.wake();
    });
    this.consumer.on(CRASH, (event) => {
      if (!event.payload.restart) this.fail(event.payload.error);
    });
    this.started = this.start().catch((error: unknown) => this.fail(error));
  }

  async poll(options: PollOptions = {}): Promise<StoredRecord[]> {
    const maxRecords = options.maxRecords ?? 500;
    const deadline = Date.now() + (options.timeoutMs ?? 1000);
    for (;;) {
      this.assertUsable();
      const records = this.take(maxRecords);
      const remaining = deadline - Date.now();
      if (records.length > 0 || remaining <= 0 || options.signal?.aborted) return records;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, remaining);
        options.signal?.addEventListener('abort', done, { once: true });
        this.wakeUp = done;
        function done(): void {
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', done);
          resolve();
        }
      });
    }
  }

  async commit(offsets: PartitionOffset[]): Promise<void> {
    this.assertUsable();
    if (offsets.length === 0) return;
    const { topic } = this.options;
    try {
      await withTimeout(this.joined, this.settings.sessionTimeoutMs + this.settings.requestTimeoutMs, `joining group ${this.options.group}`);
      await withTimeout(
        this.consumer.commitOffsets(offsets.map(({ partition, offset }) => ({ topic, partition, offset: String(offset) }))),
        this.settings.requestTimeoutMs,
        `commit for group ${this.options.group}`,
      );
    } catch (error) {
      // A rebalance in between makes the commit fail; the records are redelivered to the new owner.
      throw fromKafkaError(error, `commit offsets of group ${this.options.group} on ${topic}`, topic);
    }
  }

  assignment(): number[] {
    return [...this.assigned];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.dropChunks();
    this.wake();
    await this.started;
    await this.consumer.disconnect().catch(() => undefined);
  }

  private async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.options.topic], fromBeginning: this.options.fromBeginning ?? true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // Every partition's batch of a fetch is queued at once, so one poll can return several.
      partitionsConsumedConcurrently: 64,
      eachBatch: (payload) => this.accept(payload),
    });
  }

  private async accept({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (this.closed || !isRunning() || isStale()) return;
    let delivered = false;
    const chunk: Chunk = {
      records: batch.messages.map((m) => toStoredRecord(batch.topic, batch.partition, m)),
      taken: 0,
      handedOut: () => undefined,
    };
    const handedOut = new Promise<void>((resolve) => (chunk.handedOut = resolve));
    this.chunks.push(chunk);
    this.wake();
    while (!delivered) {
      delivered = await Promise.race([handedOut.then(() => chunk.taken === chunk.records.length), sleep(HEARTBEAT_MS).then(() => false)]);
      if (this.closed || !isRunning() || !this.chunks.includes(chunk)) break;
      if (!delivered) {
        try {
          await heartbeat();
        } catch (error) {
          this.remove(chunk);
          throw error; // kafkajs rejoins the group
        }
      }
    }
    if (delivered && !this.closed) resolveOffset(batch.lastOffset());
  }

  private take(max: number): StoredRecord[] {
    const out: StoredRecord[] = [];
    while (out.length < max && this.chunks.length > 0) {
      const chunk = this.chunks[0]!;
      const n = Math.min(max - out.length, chunk.records.length - chunk.taken);
      out.push(...chunk.records.slice(chunk.taken, chunk.taken + n));
      chunk.taken += n;
      if (chunk.taken === chunk.records.length) {
        this.chunks.shift();
        chunk.handedOut();
      }
    }
    return out;
  }

  private remove(chunk: Chunk): void {
    this.chunks = this.chunks.filter((c) => c !== chunk);
    chunk.handedOut();
  }

  private dropChunks(): void {
    const dropped = this.chunks;
    this.chunks = [];
    for (const chunk of dropped) chunk.handedOut();
  }

  private wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = undefined;
    wakeUp?.();
  }

  private fail(error: unknown): void {
    this.failure = fromKafkaError(error, `consumer of group ${this.options.group}`, this.options.topic);
    this.wake();
  }

  private assertUsable(): void {
    if (this.closed) throw new EngramError('consumer_closed', `consumer of group ${this.options.group} is closed`);
    if (this.failure !== undefined) throw this.failure;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
