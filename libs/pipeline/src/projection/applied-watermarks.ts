/**
 * How far a projection has got, per partition, in `memory-events` offsets (what consistency tokens
 * name). The projection worker advances it in process right after its KV batch is durable and its
 * cache entries are written; a query-api in another process learns it by reading the
 * `w|<partition>` keys, so there (`follow: 'kv'`) `waitFor` also re-reads KV while anybody waits.
 * A process that runs the projection itself (`follow: 'announced'`) reads KV once, at `load`, and
 * then moves only on `advance`: KV holds a batch's watermark a moment before the projection has put
 * the batch's states in the cache, and a reader woken in that moment would find the older state there.
 */
import { EngramError } from '@engram/core';
import type { KvStore } from '@engram/ports';
import { watermarkKey, parseJson } from '../kv-keys.js';
import type { PositionMap } from '../consistency-token.js';

export interface Watermark {
  /** Last applied offset in `memory-enriched`. */
  enrichedOffset: number;
  /** Highest `memory-events` offset among the applied events. */
  sourceOffset: number;
}

interface Waiter {
  positions: PositionMap;
  resolve: () => void;
}

export interface AppliedWatermarks {
  /** Resolves once every position is applied; rejects with `consistency_timeout` after timeoutMs. */
  waitFor(positions: PositionMap, timeoutMs: number): Promise<void>;
  /** Called by the projection after a durable batch. */
  advance(partition: number, sourceOffset: number): void;
  isApplied(positions: PositionMap): boolean;
  /** Reads the stored watermarks of every partition (the start of a process that then follows announcements). */
  load(): Promise<void>;
  /**
   * How it learns of progress (the option of the same name). `'announced'` also means the cache
   * holds a batch's states before its watermark moves here (query-service.ts relies on that).
   */
  readonly follow: 'kv' | 'announced';
  close(): void;
}

export function createAppliedWatermarks(options: {
  /** Where other processes' progress is read; without it only `advance` moves it (an in-process index). */
  kv?: KvStore;
  partitions: number;
  /** Which projection's watermark: the KV projection's (`w|p`) or the vector indexer's (`vw|p`). @default watermarkKey */
  keyFor?: (partition: number) => string;
  /**
   * `'kv'`: the projection runs in another process, so waiting readers re-read the stored
   * watermarks. `'announced'`: it runs in this process and `advance` is the only news after `load`.
   * @default 'kv'
   */
  follow?: 'kv' | 'announced';
  /** @default 25 */
  refreshMs?: number;
}): AppliedWatermarks {
  const keyFor = options.keyFor ?? watermarkKey;
  const polls = options.kv !== undefined && options.follow !== 'announced';
  const applied = new Map<number, number>();
  const waiters = new Set<Waiter>();
  let timer: NodeJS.Timeout | undefined;

  const isApplied = (positions: PositionMap): boolean => {
    for (const [p, o] of positions) if ((applied.get(p) ?? -1) < o) return false;
    return true;
  };

  const wake = () => {
    for (const w of waiters) {
      if (isApplied(w.positions)) {
        waiters.delete(w);
        w.resolve();
      }
    }
    if (waiters.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  const waitedPartitions = () => [...new Set([...waiters].flatMap((w) => [...w.positions.keys()]))];

  const read = async (partitions: number[]) => {
    if (options.kv === undefined) return;
    const values = await options.kv.getMany(partitions.map(keyFor));
    values.forEach((buf, i) => {
      if (buf) advance(partitions[i]!, parseJson<Watermark>(buf).sourceOffset);
    });
  };

  function advance(partition: number, sourceOffset: number): void {
    if ((applied.get(partition) ?? -1) >= sourceOffset) return;
    applied.set(partition, sourceOffset);
    if (waiters.size > 0) wake();
  }

  const refresh = (partitions: number[]) => (polls ? read(partitions) : Promise.resolve());

  return {
    advance,
    isApplied,
    follow: options.follow ?? 'kv',
    load: () => read(Array.from({ length: options.partitions }, (_, p) => p)),
    async waitFor(positions, timeoutMs) {
      for (const p of positions.keys()) {
        if (p < 0 || p >= options.partitions) throw new EngramError('invalid_token', `consistency token names partition ${p}, there are ${options.partitions}`);
      }
      if (isApplied(positions)) return;
      await refresh([...positions.keys()]).catch(() => undefined);
      if (isApplied(positions)) return;
      await new Promise<void>((resolve, reject) => {
        const waiter: Waiter = {
          positions,
          resolve: () => {
            clearTimeout(deadline);
            resolve();
          },
        };
        const deadline = setTimeout(() => {
          waiters.delete(waiter);
          reject(new EngramError('consistency_timeout', `the projection did not reach the consistency token within ${timeoutMs} ms`, { retriable: true }));
        }, timeoutMs);
        waiters.add(waiter);
        if (polls) timer ??= setInterval(() => void refresh(waitedPartitions()).then(wake, () => undefined), options.refreshMs ?? 25);
      });
    },
    close() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
