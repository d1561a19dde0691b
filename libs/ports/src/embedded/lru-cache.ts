/**
 * The single-node Cache: an in-process LRU bounded by entry count and by bytes, on `lru-cache`.
 *
 * Values are copied in and out, so a caller that reuses its buffer cannot change a cached entry
 * (the Redis adapter behaves the same way by construction).
 */
import { LRUCache } from 'lru-cache';
import { EngramError, ValidationError } from '@engram/core';
import type { Cache, CacheEntry } from '../cache.js';

export interface LruCacheOptions {
  /** Most entries held; the least recently used go first. @default 10000 */
  maxEntries?: number;
  /**
   * Most bytes held (values plus keys plus a fixed per-entry overhead). An entry larger than this
   * is not cached at all. @default 67108864 (64 MiB)
   */
  maxBytes?: number;
}

/** Rough bookkeeping cost of one entry (map slots, object headers), so tiny values still count. */
const ENTRY_OVERHEAD_BYTES = 64;

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new ValidationError('invalid_option', `${name} must be a positive integer, got ${value}`);
  return value;
}

export function createLruCache(options: LruCacheOptions = {}): Cache {
  const lru = new LRUCache<string, CacheEntry>({
    max: positiveInteger('maxEntries', options.maxEntries ?? 10_000),
    maxSize: positiveInteger('maxBytes', options.maxBytes ?? 64 * 1024 * 1024),
    sizeCalculation: (entry, key) => entry.value.length + key.length * 2 + ENTRY_OVERHEAD_BYTES,
  });
  let closed = false;

  function assertOpen(): void {
    if (closed) throw new EngramError('cache_closed', 'the cache is closed');
  }

  return {
    async get(key) {
      assertOpen();
      const entry = lru.get(key);
      return entry === undefined ? undefined : { value: Buffer.from(entry.value), version: entry.version };
    },

    async set(key, entry, ttlMs) {
      assertOpen();
      if (ttlMs !== undefined && (!Number.isFinite(ttlMs) || ttlMs <= 0)) {
        throw new ValidationError('invalid_ttl', `ttlMs must be a positive number of milliseconds, got ${ttlMs}`);
      }
      // peek: checking the version must not count as a use (nor revive an expired entry).
      const current = lru.peek(key);
      if (current !== undefined && current.version > entry.version) return;
      // Too large for maxBytes: lru-cache refuses it and drops the older entry, so no stale read.
      lru.set(key, { value: Buffer.from(entry.value), version: entry.version }, ttlMs === undefined ? {} : { ttl: Math.ceil(ttlMs) });
    },

    async delete(keys) {
      assertOpen();
      for (const key of keys) lru.delete(key);
    },

    async close() {
      closed = true;
      lru.clear();
    },
  };
}
