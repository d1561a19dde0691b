/**
 * The loop every worker runs: poll a batch, handle it, commit the next offsets. Failure policy
 * (CONVENTIONS.md): a retriable error (a store or the log unavailable) is not the records' fault,
 * so the same batch is retried with jittered exponential backoff, capped, until it passes or the
 * loop stops — it never dead-letters anything (a broker outage must neither end the worker nor
 * push good events past the sequencer). A non-retriable error replays the batch record by record so
 * the poison record alone goes to the dead-letter topic and the rest proceed. Offsets are committed
 * only after `handle` resolved, i.e. after its effects are durable; a retriable commit failure is
 * logged and the loop goes on (the batch is delivered again later and skipped, as applying is
 * idempotent).
 */
import { isEngramError } from '@engram/core';
import type { LogConsumer, PartitionOffset, StoredRecord } from '@engram/ports';
import type { DeadLetterSink } from './dead-letters.js';
import type { Telemetry } from './telemetry.js';

export interface ConsumerLoopOptions {
  name: string;
  consumer: LogConsumer;
  handle: (records: StoredRecord[]) => Promise<void>;
  deadLetters: DeadLetterSink;
  telemetry: Telemetry;
  /** @default 500 */
  maxRecords?: number;
  /**
   * Dynamic batching: after a poll returns fewer than `maxRecords`, keep polling for up to this many
   * milliseconds (from the first record) to fill the batch; the batch goes as soon as it is full.
   * @default 0 (a batch is whatever one poll returns)
   */
  lingerMs?: number;
  /** @default 100 */
  backoffMs?: number;
  /** False when `handle` commits its own offsets atomically with its output (the sequencer). @default true */
  commitAfterHandle?: boolean;
  /**
   * Commit offsets at most this often instead of after every batch; what is pending is also
   * committed when a poll comes back empty, when records were dead-lettered, and on stop. Only for
   * consumers that skip redelivered records by a watermark stored with their output (the projection
   * and its followers): a crash then costs re-reading up to this much of the log, nothing else, and
   * each skipped commit is a durable log write fewer competing with ingest. @default 0 (every batch)
   */
  commitEveryMs?: number;
}

export interface ConsumerLoop {
  /** Resolves when the loop has stopped (after `stop`). */
  done: Promise<void>;
  /** Finish the batch in hand, commit it, leave the group. */
  stop(): Promise<void>;
}

export function nextOffsets(records: StoredRecord[]): PartitionOffset[] {
  const next = new Map<number, number>();
  for (const r of records) next.set(r.partition, Math.max(r.offset + 1, next.get(r.partition) ?? 0));
  return [...next].map(([partition, offset]) => ({ partition, offset }));
}

/**
 * commitEveryMs of the consumers that skip redelivered records by their own watermark (projection,
 * changelog emitter, vector indexer): a crash re-reads at most about a second of the log.
 */
export const WATERMARKED_COMMIT_EVERY_MS = 1000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const MAX_BACKOFF_MS = 5_000;

export function startConsumerLoop(options: ConsumerLoopOptions): ConsumerLoop {
  const { consumer, telemetry } = options;
  const log = telemetry.logger.child({ worker: options.name });
  const abort = new AbortController();
  const backoff = options.backoffMs ?? 100;

  async function withRetries(records: StoredRecord[]): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      try {
        await options.handle(records);
        return undefined;
      } catch (error) {
        const retriable = isEngramError(error) ? error.retriable : false;
        if (!retriable || abort.signal.aborted) return error;
        const delay = Math.min(backoff * 2 ** Math.min(attempt - 1, 16), MAX_BACKOFF_MS) * (0.5 + Math.random());
        log.warn({ err: error, attempt, delay }, 'batch failed, retrying');
        await sleep(delay);
      }
    }
  }

  /**
   * Returns true when records had to be isolated (then the loop commits, whoever normally does),
   * and undefined when stop() came while a retriable failure was being retried: the batch is left
   * uncommitted, to be delivered again, and the loop ends normally.
   */
  async function handleBatch(records: StoredRecord[]): Promise<boolean | undefined> {
    const error = await withRetries(records);
    if (error === undefined) return false;
    if (isEngramError(error) && error.retriable && abort.signal.aborted) return undefined;
    log.error({ err: error, records: records.length }, 'batch failed; isolating the poison record');
    for (const record of records) {
      const single = await withRetries([record]);
      if (single === undefined) continue;
      const code = isEngramError(single) ? single.code : 'processing_failed';
      // Tried twice: in its batch, then alone.
      await options.deadLetters.send(record, { code, reason: (single as Error).message ?? String(single), attempts: 2 });
    }
    return true;
  }

  /** Polls again until the batch holds `maxRecords` or `lingerMs` has passed since its first poll. */
  async function fill(first: StoredRecord[]): Promise<StoredRecord[]> {
    const max = options.maxRecords ?? 500;
    const deadline = performance.now() + options.lingerMs!;
    const records = first;
    while (records.length < max && !abort.signal.aborted) {
      const left = deadline - performance.now();
      if (left < 1) break;
      try {
        const more = await consumer.poll({ maxRecords: max - records.length, timeoutMs: Math.ceil(left), signal: abort.signal });
        for (const record of more) records.push(record);
      } catch (error) {
        // What was polled so far is handled; the loop's own poll reports the failure.
        if (!abort.signal.aborted) log.warn({ err: error }, 'poll while filling a batch failed');
        break;
      }
    }
    return records;
  }

  /** Handled but not yet committed: next offset per partition (commitEveryMs). */
  const pending = new Map<number, number>();
  let lastCommit = performance.now();

  async function commit(records: StoredRecord[], force = true): Promise<void> {
    for (const { partition, offset } of nextOffsets(records)) pending.set(partition, Math.max(offset, pending.get(partition) ?? 0));
    if (!force && performance.now() - lastCommit < (options.commitEveryMs ?? 0)) return;
    await commitPending();
  }

  async function commitPending(): Promise<void> {
    if (pending.size === 0) return;
    const offsets = [...pending].map(([partition, offset]) => ({ partition, offset }));
    pending.clear();
    lastCommit = performance.now();
    try {
      await consumer.commit(offsets);
    } catch (error) {
      if (!isEngramError(error) || !error.retriable || abort.signal.aborted) throw error;
      log.warn({ err: error }, 'commit failed; the batch will be delivered again and skipped');
    }
  }

  const done = (async () => {
    try {
      while (!abort.signal.aborted) {
        let records: StoredRecord[];
        try {
          records = await consumer.poll({ maxRecords: options.maxRecords ?? 500, timeoutMs: 500, signal: abort.signal });
        } catch (error) {
          if (abort.signal.aborted) break;
          log.error({ err: error }, 'poll failed');
          await sleep(backoff);
          continue;
        }
        if (records.length === 0) {
          await commitPending(); // the log went quiet: leave no lag behind
          continue;
        }
        if ((options.lingerMs ?? 0) > 0) records = await fill(records);
        const isolated = await handleBatch(records);
        if (isolated === undefined) break;
        if (isolated || (options.commitAfterHandle ?? true)) await commit(records, isolated);
      }
      await commitPending();
    } finally {
      // Leave the group even after a crash, so its partitions move to the other members.
      await consumer.close();
    }
  })();
  done.catch((error) => log.fatal({ err: error }, 'consumer loop crashed'));

  return {
    done,
    async stop() {
      abort.abort();
      await done.catch(() => undefined);
    },
  };
}
