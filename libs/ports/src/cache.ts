/**
 * Cache: hot entries in front of the KV store. Embedded: in-process LRU. Distributed: Redis.
 * Entries carry the entity version so an older write never replaces a newer one.
 */
export interface CacheEntry {
  value: Buffer;
  version: number;
}

export interface Cache {
  get(key: string): Promise<CacheEntry | undefined>;
  /** Stores the entry unless the cache already holds a newer version for the key. */
  set(key: string, entry: CacheEntry, ttlMs?: number): Promise<void>;
  delete(keys: string[]): Promise<void>;
  close(): Promise<void>;
}
