/**
 * Consumer groups of the embedded event log. Membership lives in the process (one EventLog
 * instance is one "broker"); only committed offsets are on disk. Members of a group on the same
 * topic share its partitions: sorted by member id, partition p goes to member p mod n. Member ids
 * grow with join order, so the oldest member keeps partition 0 across rebalances.
 */
import { EngramError } from '@engram/core';
import type { ConsumerOptions, LogConsumer, PartitionOffset, PollOptions, StoredRecord } from '../event-log.js';
import { checkName, readPartition, requireTopic, type LogDbs } from './lmdb-log-store.js';

/**
 * Wakes waiting polls: `wake(topic)` right after a commit in this process (or a broadcast from
 * another thread); appends by another process are found by one watcher per log instance.
 *
 * The watcher runs only while some poll waits: every `intervalMs` it asks `signature(topic)` (the
 * topic's end offsets, a few point reads) of each topic with waiters and wakes the topic when it
 * changed since the first waiter began to wait. The first signature is taken as that waiter
 * registers, in the same event turn (and so the same read snapshot) as the empty fetch before it,
 * so an append landing in between is still noticed. An idle process thus pays one small timer per
 * log, not a timer and a range scan of every partition per consumer.
 */
export class Waker {
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly seen = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly signature: (topic: string) => string,
  ) {}

  wait(topic: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(topic);
      if (set === undefined) {
        set = new Set<() => void>();
        this.waiters.set(topic, set);
        this.seen.set(topic, this.signature(topic));
        this.watch();
      }
      const waiting = set;
      const done = (): void => {
        clearTimeout(timer);
        waiting.delete(done);
        if (waiting.size === 0 && this.waiters.get(topic) === waiting) this.forget(topic);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      waiting.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  wake(topic: string): void {
    for (const done of [...(this.waiters.get(topic) ?? [])]) done();
  }

  wakeAll(): void {
    for (const topic of [...this.waiters.keys()]) this.wake(topic);
  }

  /** Stops watching (the log is closing). */
  close(): void {
    this.wakeAll();
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private forget(topic: string): void {
    this.waiters.delete(topic);
    this.seen.delete(topic);
    if (this.waiters.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private watch(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.check(), this.intervalMs);
    this.timer.unref();
  }

  private check(): void {
    for (const [topic, before] of [...this.seen]) {
      let now: string;
      try {
        now = this.signature(topic);
      } catch {
        now = ''; // the log closed under the timer: wake, and the poll reports it
      }
      if (now !== before) this.wake(topic);
    }
  }
}

export interface ConsumerHost {
  dbs: LogDbs;
  waker: Waker;
  commit(group: string, topic: string, offsets: PartitionOffset[]): Promise<void>;
  assertOpen(): void;
}

/** The in-process group coordinator of one EventLog instance. */
export class GroupRegistry {
  private readonly groups = new Map<string, Member[]>();
  private seq = 0;

  constructor(private readonly host: ConsumerHost) {}

  join(options: ConsumerOptions): LogConsumer {
    this.host.assertOpen();
    checkName('group', options.group);
    const spec = requireTopic(this.host.dbs, options.topic);
    // Zero-padded so that sorting ids as strings is sorting by join order.
    const id = `member-${String(++this.seq).padStart(9, '0')}`;
    const member = new Member(id, options, spec.partitions, this.host, () => this.leave(member));
    const key = `${options.group}\0${options.topic}`;
    const members = this.groups.get(key) ?? [];
    this.groups.set(key, members);
    members.push(member);
    this.rebalance(members, spec.partitions, options.topic);
    return member;
  }

  /** Closes every member (the log is closing): pending polls return []. */
  closeAll(): void {
    for (const members of this.groups.values()) for (const m of members) m.closed = true;
    this.groups.clear();
    this.host.waker.wakeAll();
  }

  private leave(member: Member): void {
    const key = `${member.group}\0${member.topic}`;
    const members = (this.groups.get(key) ?? []).filter((m) => m !== member);
    if (members.length === 0) this.groups.delete(key);
    else this.groups.set(key, members);
    this.rebalance(members, member.partitionCount, member.topic);
  }

  private rebalance(members: Member[], partitions: number, topic: string): void {
    members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const lists: number[][] = members.map(() => []);
    for (let p = 0; p < partitions; p++) lists[p % members.length]?.push(p);
    members.forEach((m, i) => m.assign(lists[i] ?? []));
    // Members waiting on an empty assignment may now have data to return.
    this.host.waker.wake(topic);
  }
}

class Member implements LogConsumer {
  readonly group: string;
  readonly topic: string;
  closed = false;
  private assigned: number[] = [];
  /** Next offset to return per assigned partition; absent = start from the committed offset. */
  private readonly positions = new Map<number, number>();
  private rotation = 0;

  constructor(
    readonly id: string,
    private readonly options: ConsumerOptions,
    readonly partitionCount: number,
    private readonly host: ConsumerHost,
    private readonly onClose: () => void,
  ) {
    this.group = options.group;
    this.topic = options.topic;
  }

  assign(partitions: number[]): void {
    // A partition that moves here restarts from the committed offset (whatever its previous owner
    // polled but did not commit is delivered again); partitions kept keep their position.
    for (const p of this.assigned) if (!partitions.includes(p)) this.positions.delete(p);
    for (const p of partitions) {
      // 'latest' means records appended after the assignment, so it is pinned now, not at the first poll.
      if (!this.assigned.includes(p) && this.options.fromBeginning === false && this.committed(p) === undefined) {
        this.positions.set(p, this.host.dbs.ends.get([this.topic, p]) ?? 0);
      }
    }
    this.assigned = partitions;
  }

  assignment(): number[] {
    return [...this.assigned];
  }

  async poll(options: PollOptions = {}): Promise<StoredRecord[]> {
    const maxRecords = options.maxRecords ?? 500;
    const deadline = Date.now() + (options.timeoutMs ?? 1000);
    for (;;) {
      this.assertOpen();
      const records = this.fetch(maxRecords);
      if (records.length > 0 || this.closed || options.signal?.aborted) return records;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return [];
      // An append in this process wakes the wait at once, one by another process within pollIntervalMs (Waker).
      await this.host.waker.wait(this.topic, remaining, options.signal);
      if (this.closed) return [];
    }
  }

  async commit(offsets: PartitionOffset[]): Promise<void> {
    this.assertOpen();
    await this.host.commit(this.group, this.topic, offsets);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }

  private assertOpen(): void {
    if (this.closed) throw new EngramError('consumer_closed', `consumer ${this.id} of group ${this.group} is closed`);
    this.host.assertOpen();
  }

  /**
   * Fair share first: each partition, starting from a rotating one, gets ceil(max / n) records;
   * what is left of maxRecords then goes to partitions that had more, so a busy partition cannot
   * starve the others and a quiet one does not waste the batch.
   */
  private fetch(maxRecords: number): StoredRecord[] {
    const parts = this.assigned;
    if (parts.length === 0 || maxRecords <= 0) return [];
    const out: StoredRecord[] = [];
    const quota = Math.max(1, Math.ceil(maxRecords / parts.length));
    const start = this.rotation++ % parts.length;
    const hasMore = new Set<number>();
    for (let i = 0; i < parts.length && out.length < maxRecords; i++) {
      const p = parts[(start + i) % parts.length] as number;
      const want = Math.min(quota, maxRecords - out.length);
      if (this.take(p, want, out) === want) hasMore.add(p);
    }
    for (const p of hasMore) {
      if (out.length >= maxRecords) break;
      this.take(p, maxRecords - out.length, out);
    }
    return out;
  }

  private take(partition: number, limit: number, out: StoredRecord[]): number {
    const from = this.positions.get(partition) ?? this.startOffset(partition);
    const records = readPartition(this.host.dbs, this.topic, partition, from, limit, this.options.lazyValues === true);
    const last = records[records.length - 1];
    this.positions.set(partition, last === undefined ? from : last.offset + 1);
    out.push(...records);
    return records.length;
  }

  /** Read at the first poll after an assignment, so a commit made by the previous owner meanwhile counts. */
  private startOffset(partition: number): number {
    return this.committed(partition) ?? (this.options.fromBeginning === false ? (this.host.dbs.ends.get([this.topic, partition]) ?? 0) : 0);
  }

  private committed(partition: number): number | undefined {
    return this.host.dbs.commits.get([this.group, this.topic, partition]);
  }
}
