/**
 * Best-effort duplicate detection for `append(…, { dedupe: true })` on Kafka (DESIGN.md section 3).
 * Kafka cannot check "is this key already in the topic?" inside a produce, so the adapter keeps,
 * per partition, the keys of the last `size` records with their offsets. A partition's window is
 * loaded from the topic's tail (committed records only) the first time it is needed, so it also
 * covers what earlier processes wrote; it is dropped whenever a consumer group of this process
 * rebalances, because another process may have appended to the partition meanwhile.
 *
 * Concurrent appends in this process are exact: a key is entered with the pending position of the
 * append that carries it, and a later copy waits for that position. Across processes and beyond
 * the window it is best effort; the sequencer's own window and the projection's offsets make sure
 * an event is still applied once.
 */
import type { StoredRecord } from '@engram/ports';

type Position = Promise<number> | number;

export type TailReader = (partition: number, from: number, max: number) => Promise<StoredRecord[]>;

class PartitionWindow {
  readonly keys = new Map<string, Position>();

  constructor(private readonly size: number) {}

  add(key: string, position: Position): void {
    this.keys.delete(key);
    this.keys.set(key, position);
    if (this.keys.size > this.size) this.keys.delete(this.keys.keys().next().value!);
  }
}

export class DedupeWindows {
  private readonly windows = new Map<string, Promise<PartitionWindow>>();

  constructor(private readonly size: number) {}

  /** The window of one partition, loading it from the topic's tail on first use. */
  async window(topic: string, partition: number, end: () => Promise<number>, read: TailReader): Promise<PartitionWindow> {
    const id = `${topic}\0${partition}`;
    let window = this.windows.get(id);
    if (window === undefined) {
      window = this.load(partition, end, read);
      this.windows.set(id, window);
      window.catch(() => this.windows.delete(id));
    }
    return window;
  }

  /** Forget everything: windows reload from the topics on next use. */
  clear(): void {
    this.windows.clear();
  }

  private async load(partition: number, end: () => Promise<number>, read: TailReader): Promise<PartitionWindow> {
    const window = new PartitionWindow(this.size);
    const last = await end();
    let next = Math.max(0, last - this.size);
    while (next < last) {
      const records = await read(partition, next, Math.min(10_000, last - next));
      if (records.length === 0) break;
      for (const r of records) window.add(r.key, r.offset);
      next = records[records.length - 1]!.offset + 1;
    }
    return window;
  }
}
