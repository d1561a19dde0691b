/**
 * The raw-LMDB baseline for the ingest benchmark: the same bytes written with the `lmdb` package
 * the way an ideal durable store would — one write transaction per batch, each batch on disk
 * (fsync) before the next one starts, no encoding work beyond copying the given Buffers.
 */
import { open } from 'lmdb';
import { createRandom } from './vectors.js';
import { nowMs } from './timer.js';

export interface RawRecord {
  key: string;
  value: Buffer;
}

export interface RawLmdbWriteOptions {
  /**
   * How a batch is committed durably:
   * - `sync`: `transactionSync` — commit and fsync on the calling thread before returning.
   * - `async`: `transaction()` on lmdb's write thread, then `await flushed` (what an async store
   *   that acknowledges only durable batches does).
   * @default 'sync'
   */
  mode?: 'sync' | 'async';
}

/**
 * Writes `records` into a fresh LMDB environment at `path` (a file path; lmdb creates it and a
 * `-lock` file beside it) in transactions of `batchSize`, every one durable before the next, and
 * returns records per second. Opening and closing the environment are not timed.
 */
export async function rawLmdbWrite(path: string, records: RawRecord[], batchSize: number, options: RawLmdbWriteOptions = {}): Promise<number> {
  const mode = options.mode ?? 'sync';
  // Values are already bytes: binary encoding copies them as-is; compression off like the real stores.
  const db = open<Buffer, string>({ path, encoding: 'binary', compression: false });
  try {
    const start = nowMs();
    for (let i = 0; i < records.length; i += batchSize) {
      const batch = records.slice(i, i + batchSize);
      if (mode === 'sync') {
        db.transactionSync(() => {
          for (const r of batch) db.putSync(r.key, r.value);
        });
      } else {
        await db.transaction(() => {
          for (const r of batch) void db.put(r.key, r.value);
        });
        await db.flushed;
      }
    }
    const seconds = (nowMs() - start) / 1000;
    if (db.getKeysCount() !== new Set(records.map((r) => r.key)).size) throw new Error('raw LMDB write lost records');
    return records.length / seconds;
  } finally {
    await db.close();
  }
}

/**
 * `count` records of `valueBytes` random bytes under sequential zero-padded keys (`evt-000000001`),
 * the shape of an append-only event log. Seeded, so every run writes the same bytes.
 */
export function makeRecords(count: number, valueBytes: number, seed = 7): RawRecord[] {
  const random = createRandom(seed);
  const records: RawRecord[] = [];
  for (let i = 0; i < count; i++) {
    const value = Buffer.allocUnsafe(valueBytes);
    for (let j = 0; j < valueBytes; j++) value[j] = Math.floor(random() * 256);
    records.push({ key: `evt-${String(i).padStart(9, '0')}`, value });
  }
  return records;
}
