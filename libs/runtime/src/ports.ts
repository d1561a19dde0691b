/**
 * Chooses an adapter for every port from configuration alone (DESIGN.md section 1) and opens it.
 * Embedded adapters keep their files under ENGRAM_DATA_DIR. Distributed adapters arrive with their
 * issues; choosing one that is not built yet fails at start-up with a clear message rather than
 * silently falling back to an embedded store.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { EngramConfig } from '@engram/config';
import { EngramError } from '@engram/core';
import {
  createFsBlobStore,
  createHashEmbedder,
  createHnswVectorIndex,
  createLmdbEventLog,
  createLmdbKvStore,
  createLmdbSchemaRegistry,
  createLruCache,
  type BlobStore,
  type Cache,
  type Embedder,
  type EventLog,
  type KvStore,
  type SchemaRegistry,
  type VectorIndex,
} from '@engram/ports';

export interface Ports {
  log: EventLog;
  kv: KvStore;
  vectors: VectorIndex;
  cache: Cache;
  blobs: BlobStore;
  embedder: Embedder;
  registry: SchemaRegistry;
  /** What was chosen, for the boot log. */
  adapters: Record<string, string>;
  close(): Promise<void>;
}

function notBuilt(setting: string, value: string, issue: string): never {
  throw new EngramError('adapter_not_available', `${setting}=${value} is not available in this build yet (${issue}); use the embedded default`);
}

export async function openPorts(config: EngramConfig): Promise<Ports> {
  if (config.log !== 'embedded') notBuilt('ENGRAM_LOG', config.log, 'the Kafka backbone issue');
  if (config.kv !== 'embedded') notBuilt('ENGRAM_KV', config.kv, 'the TiKV issue');
  if (config.vector !== 'embedded') notBuilt('ENGRAM_VECTOR', config.vector, 'the distributed read-side issue');
  if (config.cache !== 'memory') notBuilt('ENGRAM_CACHE', config.cache, 'the distributed read-side issue');
  if (config.blob !== 'fs') notBuilt('ENGRAM_BLOB', config.blob, 'the distributed read-side issue');
  if (config.embedder !== 'hash') notBuilt('ENGRAM_EMBEDDER', config.embedder, 'the sentence-embedding issue');

  const dir = (name: string) => {
    const path = join(config.dataDir, name);
    mkdirSync(path, { recursive: true });
    return path;
  };
  const opened: Array<{ close(): Promise<void> }> = [];
  const open = <T extends { close(): Promise<void> }>(port: T): T => {
    opened.push(port);
    return port;
  };
  try {
    const ports: Ports = {
      registry: open(createLmdbSchemaRegistry({ path: dir('registry') })),
      log: open(createLmdbEventLog({ path: dir('log') })),
      kv: open(createLmdbKvStore({ path: dir('kv') })),
      vectors: open(await createHnswVectorIndex({ path: dir('vectors') })),
      cache: open(createLruCache({ maxEntries: Math.max(1, config.cacheMaxEntries) })),
      blobs: open(createFsBlobStore({ root: dir('blobs') })),
      embedder: open(createHashEmbedder({ dims: 384 })),
      adapters: { log: 'lmdb', kv: 'lmdb', registry: 'lmdb', vectors: 'hnswlib', cache: 'lru', blobs: 'fs', embedder: 'hash-v1' },
      async close() {
        for (const port of opened.reverse()) await port.close().catch(() => undefined);
      },
    };
    return ports;
  } catch (error) {
    for (const port of opened.reverse()) await port.close().catch(() => undefined);
    throw error;
  }
}
