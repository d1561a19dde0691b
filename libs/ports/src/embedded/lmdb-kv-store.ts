/**
 * The embedded KvStore (single-node default) on LMDB. Keys are stored as their raw UTF-8 bytes
 * (keyEncoding 'binary'), and LMDB compares keys with memcmp, so the B-tree order is exactly the
 * UTF-8 byte order the port promises, and a prefix scan is one contiguous range.
 *
 * Durability: a batch is one LMDB write transaction whose promise resolves after LMDB's fsync
 * (overlappingSync off). LMDB is copy-on-write with two meta pages, so a crash mid-commit leaves
 * the store at the previous transaction, never half-written.
 */
import { open, type Database } from 'lmdb';
import { EngramError, LimitExceededError, ValidationError } from '@engram/core';
import type { KvEntry, KvOp, KvStore, ScanOptions, ScanPage } from '../kv-store.js';

export interface LmdbKvStoreOptions {
  /** Directory of the LMDB environment; created if missing. */
  path: string;
}

/** LMDB's largest key at the default 4 KiB page size, as lmdb-js enforces it. */
const MAX_KEY_BYTES = 1978;

export function createLmdbKvStore(options: LmdbKvStoreOptions): KvStore {
  const root = open({ path: options.path, overlappingSync: false });
  const db: Database<Buffer, Buffer> = root.openDB<Buffer, Buffer>('kv', { keyEncoding: 'binary', encoding: 'binary' });
  let closed = false;

  const assertOpen = (): void => {
    if (closed) throw new EngramError('kv_closed', `the KV store at ${options.path} is closed`);
  };

  const get = (key: string): Buffer | undefined => {
    const value = db.get(encodeKey(key));
    return value === undefined ? undefined : asBuffer(value);
  };

  return {
    async get(key: string): Promise<Buffer | undefined> {
      assertOpen();
      return get(key);
    },

    refreshSnapshot(): void {
      if (!closed) root.resetReadTxn();
    },

    async getMany(keys: string[]): Promise<Array<Buffer | undefined>> {
      assertOpen();
      return keys.map(get);
    },

    async batch(ops: KvOp[]): Promise<void> {
      assertOpen();
      // Encode and check everything first, so an invalid op stores nothing.
      const encoded = ops.map((op, i) => {
        if (op.type === 'put') {
          if (!(op.value instanceof Uint8Array)) throw new ValidationError('invalid_value', `op ${i}: value must be a Buffer`, { key: op.key });
          return { key: encodeKey(op.key), value: op.value as Buffer | undefined };
        }
        if (op.type === 'del') return { key: encodeKey(op.key), value: undefined };
        throw new ValidationError('invalid_op', `op ${i}: type must be 'put' or 'del'`);
      });
      if (encoded.length === 0) return;
      await root.childTransaction(() => {
        for (const { key, value } of encoded) {
          if (value === undefined) db.removeSync(key);
          else db.putSync(key, value);
        }
      });
    },

    async scan(scanOptions: ScanOptions): Promise<ScanPage> {
      assertOpen();
      return scan(db, scanOptions);
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await root.close();
    },
  };
}

function scan(db: Database<Buffer, Buffer>, options: ScanOptions): ScanPage {
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1) throw new ValidationError('invalid_limit', 'limit must be a positive integer', { limit });
  const prefix = Buffer.from(options.prefix ?? '', 'utf8');
  const after = options.after === undefined ? undefined : encodeKey(options.after);
  const upper = prefixEnd(prefix);
  // lmdb-js ranges: `start` is inclusive and `end` exclusive in either direction; in reverse,
  // `start` is the high end. One extra entry tells whether another page follows.
  const range = options.reverse === true
    ? reverseRange(prefix, upper, after)
    : forwardRange(prefix, upper, after);
  const entries: KvEntry[] = [];
  let more = false;
  for (const { key, value } of db.getRange({ ...range, limit: limit + 1 })) {
    const k = asBuffer(key);
    if (!startsWith(k, prefix)) break;
    if (entries.length === limit) {
      more = true;
      break;
    }
    entries.push({ key: k.toString('utf8'), value: asBuffer(value) });
  }
  const last = entries[entries.length - 1];
  return more && last !== undefined ? { entries, cursor: last.key } : { entries };
}

type Range = { start?: Buffer; end?: Buffer; exclusiveStart?: boolean; inclusiveEnd?: boolean; reverse?: boolean };

function forwardRange(prefix: Buffer, upper: Buffer | undefined, after: Buffer | undefined): Range {
  const resume = after !== undefined && Buffer.compare(after, prefix) >= 0;
  return {
    ...(prefix.length > 0 || resume ? { start: resume ? after : prefix } : {}),
    ...(upper === undefined ? {} : { end: upper }),
    exclusiveStart: resume,
  };
}

function reverseRange(prefix: Buffer, upper: Buffer | undefined, after: Buffer | undefined): Range {
  const resume = after !== undefined && (upper === undefined || Buffer.compare(after, upper) < 0);
  const start = resume ? after : upper;
  return {
    reverse: true,
    ...(start === undefined ? {} : { start, exclusiveStart: true }),
    ...(prefix.length > 0 ? { end: prefix, inclusiveEnd: true } : {}),
  };
}

/** The smallest key greater than every key starting with `prefix`; undefined if there is none. */
function prefixEnd(prefix: Buffer): Buffer | undefined {
  let i = prefix.length - 1;
  while (i >= 0 && prefix[i] === 0xff) i--;
  if (i < 0) return undefined;
  const end = Buffer.from(prefix.subarray(0, i + 1));
  end[i] = (end[i] as number) + 1;
  return end;
}

function startsWith(key: Buffer, prefix: Buffer): boolean {
  return key.length >= prefix.length && key.subarray(0, prefix.length).equals(prefix);
}

// In a /u regex a paired surrogate is one code point, so this matches only unpaired halves,
// which UTF-8 cannot encode (Buffer.from would silently turn them into U+FFFD).
const LONE_SURROGATE = /\p{Cs}/u;

function encodeKey(key: string): Buffer {
  if (typeof key !== 'string' || key.length === 0) throw new ValidationError('invalid_key', 'a key must be a non-empty string');
  if (LONE_SURROGATE.test(key)) throw new ValidationError('invalid_key', 'a key must be well-formed UTF-16 (no lone surrogates)');
  const bytes = Buffer.from(key, 'utf8');
  if (bytes.length > MAX_KEY_BYTES) throw new LimitExceededError('kv key bytes', bytes.length, MAX_KEY_BYTES);
  return bytes;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
