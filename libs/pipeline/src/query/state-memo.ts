/**
 * Parsed MemoryState objects, remembered by the exact bytes they were parsed from. States are stored
 * as JSON (in KV and in the cache, whose port holds bytes); parsing one costs more than everything
 * else on a cached GET, and the projector, both followers and every read of a hot memory would
 * otherwise parse the same bytes again. A lookup hands back the remembered object only when the
 * bytes it is given are identical to the ones it was parsed from, so the memo can never serve a
 * stale state: it needs no invalidation, whoever writes KV or the cache.
 *
 * The objects are shared between callers: treat them (and the views rendered from them) as
 * immutable, as JSON values already are (libs/core/src/json-merge-patch.ts).
 */
import type { MemoryState } from '@engram/core';
import type { KvStore } from '@engram/ports';
import type { MemoryView } from './memory-view.js';

/** A GET's answer, rendered once per stored state and reused while the state does not change. */
export interface RenderedMemory {
  /** Frozen: shared by every read of this state. */
  view: MemoryView;
  /** The view as JSON. */
  json: string;
  /** `"<version>"`. */
  etag: string;
}

export interface ParsedState {
  readonly state: MemoryState;
  /** Filled by the query service at the first GET of this state. */
  rendered?: RenderedMemory;
}

export interface StateMemo {
  /** `raw` (a stored state) parsed; the remembered object when these exact bytes were seen before. */
  parse(entityId: string, raw: Buffer): ParsedState;
  /** Remembers the state `raw` was just serialized from, so its next `parse` costs a comparison. */
  remember(entityId: string, raw: Buffer, state: MemoryState): void;
}

export interface StateMemoOptions {
  /** Entries per generation (two are kept). @default 10000 (the default size of the in-process L1 cache) */
  maxEntries?: number;
  /** Rough bytes per generation: four times the JSON size per entry (bytes, object, rendered answer). @default 33554432 (32 MiB) */
  maxBytes?: number;
}

interface Entry extends ParsedState {
  raw: Buffer;
}

/** One memo per KV store: the projector, its followers and the query service of a process share it. */
const memos = new WeakMap<KvStore, StateMemo>();

export function stateMemoFor(kv: KvStore): StateMemo {
  let memo = memos.get(kv);
  if (!memo) memos.set(kv, (memo = createStateMemo()));
  return memo;
}

/** Copies of stored bytes are carved from slabs of this size (see `createStateMemo`). */
const SLAB_BYTES = 64 * 1024;

/**
 * Two generations of plain Maps instead of an exact LRU: a lookup is one or two Map gets (an LRU
 * list update cost as much as the rest of a cached GET), an entry found in the old generation moves
 * to the young one, and when the young one is full the old one is dropped whole. Hot entries stay;
 * what is dropped is only parsed again.
 *
 * The memo keeps its own copy of the bytes (the caller's may be a slice of a shared pool or of a
 * reused read buffer), carved from 64 KiB slabs: a buffer of its own per entry costs as much as the
 * parse it saves. Every copy counts against the young generation's budget, and a promoted entry is
 * copied again, so dropping the old generation frees its slabs: memory stays within two budgets.
 */
export function createStateMemo(options: StateMemoOptions = {}): StateMemo {
  const maxEntries = options.maxEntries ?? 10_000;
  const maxBytes = options.maxBytes ?? 32 * 1024 * 1024;
  let young = new Map<string, Entry>();
  let old = new Map<string, Entry>();
  let youngBytes = 0;
  let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  let slabUsed = 0;

  function copyOf(raw: Buffer): Buffer {
    if (raw.length > SLAB_BYTES / 8) {
      const own = Buffer.allocUnsafeSlow(raw.length);
      raw.copy(own);
      return own;
    }
    if (slabUsed + raw.length > SLAB_BYTES) {
      slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      slabUsed = 0;
    }
    const copy = slab.subarray(slabUsed, slabUsed + raw.length);
    raw.copy(copy);
    slabUsed += raw.length;
    return copy;
  }

  /** Makes `entry` young, with a fresh copy of `raw` (unless it is too large to keep at all). */
  function put(entityId: string, entry: Entry, raw: Buffer): void {
    // Bytes, parsed object and rendered answer: about four times the JSON.
    const size = raw.length * 4 + entityId.length * 2 + 64;
    if (size > maxBytes) return;
    if (young.size >= maxEntries || youngBytes + size > maxBytes) {
      old = young;
      young = new Map();
      youngBytes = 0;
    }
    entry.raw = copyOf(raw);
    old.delete(entityId);
    young.set(entityId, entry);
    youngBytes += size;
  }

  function store(entityId: string, raw: Buffer, state: MemoryState): Entry {
    const entry: Entry = { raw, state };
    put(entityId, entry, raw);
    return entry;
  }

  return {
    parse(entityId, raw) {
      const entry = young.get(entityId);
      if (entry !== undefined && entry.raw.equals(raw)) return entry;
      const older = old.get(entityId);
      if (older !== undefined && older.raw.equals(raw)) {
        put(entityId, older, older.raw);
        return older;
      }
      return store(entityId, raw, JSON.parse(raw.toString('utf8')) as MemoryState);
    },
    remember(entityId, raw, state) {
      store(entityId, raw, state);
    },
  };
}
