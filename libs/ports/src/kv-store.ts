/**
 * KvStore: ordered keys, atomic batches, prefix scans with a cursor. The source of read truth
 * (DESIGN.md section 1). Keys are strings compared as UTF-8 bytes; values are bytes.
 */

export type KvOp = { type: 'put'; key: string; value: Buffer } | { type: 'del'; key: string };

export interface KvEntry {
  key: string;
  value: Buffer;
}

export interface ScanOptions {
  /** Only keys that start with this. */
  prefix: string;
  /** Resume strictly after this key (the `cursor` of the previous page). */
  after?: string;
  /** @default 100 */
  limit?: number;
  /** Descending order. @default false */
  reverse?: boolean;
}

export interface ScanPage {
  entries: KvEntry[];
  /** Present when more entries may follow: pass it as `after`. */
  cursor?: string;
}

export interface KvStore {
  get(key: string): Promise<Buffer | undefined>;
  getMany(keys: string[]): Promise<Array<Buffer | undefined>>;
  /** All ops or none; resolves once durable. */
  batch(ops: KvOp[]): Promise<void>;
  scan(options: ScanOptions): Promise<ScanPage>;
  /**
   * Makes the next read see every write committed so far, by any thread or process. An embedded
   * store may serve reads from one snapshot for a moment (lmdb-js keeps a read transaction until the
   * next timer turn); call this when another thread says it has committed. Absent: reads are always current.
   */
  refreshSnapshot?(): void;
  close(): Promise<void>;
}
