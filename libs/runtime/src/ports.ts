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
import { createConfluentSchemaRegistry, createKafkaEventLog } from '@engram/kafka';
import { MINILM_DIMS, MINILM_MODEL_ID, createMiniLmEmbedder, ensureMiniLmFiles, modelRevision } from '@engram/embedder';

/** Reads a port a role needs; its absence is a wiring bug, not a user error. */
export function need<T>(port: T | undefined, name: string): T {
  if (port === undefined) throw new EngramError('port_not_opened', `the ${name} port was not opened for this process's roles`);
  return port;
}
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
  type EmbeddingModelInfo,
  type EventLog,
  type KvStore,
  type SchemaRegistry,
  type VectorIndex,
} from '@engram/ports';

/** The ports a process opens; only those its roles need (see `PORTS_BY_ROLE`). */
export interface Ports {
  log: EventLog;
  registry: SchemaRegistry;
  kv?: KvStore;
  vectors?: VectorIndex;
  cache?: Cache;
  blobs?: BlobStore;
  embedder?: Embedder;
  /** What was chosen, for the boot log. */
  adapters: Record<string, string>;
  close(): Promise<void>;
}

function notBuilt(setting: string, value: string, issue: string): never {
  throw new EngramError('adapter_not_available', `${setting}=${value} is not available in this build yet (${issue}); use the embedded default`);
}

/** The text model's identity, known without loading it (the vector index records which model filled it). */
export async function embedderInfo(config: EngramConfig): Promise<EmbeddingModelInfo> {
  if (config.embedder === 'hash') return HASH_EMBEDDER_INFO;
  const files = await ensureMiniLmFiles({ modelDir: config.modelDir, quantized: config.modelPrecision === 'int8' });
  return { id: MINILM_MODEL_ID, revision: await modelRevision(files.onnx), dims: MINILM_DIMS };
}

const HASH_EMBEDDER_INFO: EmbeddingModelInfo = { id: 'hash-v1', revision: '1', dims: 384 };

export type OptionalPort = 'kv' | 'vectors' | 'cache' | 'blobs' | 'embedder';

/** Where adapters' own log lines go (the process's pino logger). */
export interface PortLogger {
  error(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

const SILENT: PortLogger = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

/** The log and its schema registry: LMDB in the data directory, or Kafka with a Confluent-API registry. */
function openLog(config: EngramConfig, dir: (name: string) => string, logger: PortLogger): { log: EventLog; registry: SchemaRegistry; adapters: Record<string, string> } {
  if (config.log === 'embedded') {
    return { log: createLmdbEventLog({ path: dir('log') }), registry: createLmdbSchemaRegistry({ path: dir('registry') }), adapters: { log: 'lmdb', registry: 'lmdb' } };
  }
  // loadConfig refuses ENGRAM_LOG=kafka without both connection settings.
  const brokers = config.kafkaBrokers ?? '';
  const registryUrl = config.schemaRegistryUrl ?? '';
  const log = createKafkaEventLog({
    brokers: brokers.split(',').map((b) => b.trim()).filter(Boolean),
    clientId: 'engram',
    transactionalId: config.kafkaTransactionalId,
    dedupeWindow: config.kafkaDedupeWindow,
    onLog: ({ level, message, extra }) => logger[level]({ kafka: extra }, message),
  });
  const registry = createConfluentSchemaRegistry({ url: registryUrl });
  return { log, registry, adapters: { log: `kafka(${brokers})`, registry: `confluent-api(${registryUrl})` } };
}

export async function openPorts(config: EngramConfig, needs: ReadonlySet<OptionalPort>, logger: PortLogger = SILENT): Promise<Ports> {
  if (config.embedder === 'minilm' && (needs.has('embedder') || needs.has('vectors'))) {
    // Missing files come from the hub once, here at start-up, or the start fails saying how to fix it.
    await ensureMiniLmFiles({ modelDir: config.modelDir, quantized: config.modelPrecision === 'int8', onProgress: (m) => logger.info({ modelDir: config.modelDir }, m) });
  }
  if (config.kv !== 'embedded') notBuilt('ENGRAM_KV', config.kv, 'the TiKV issue');
  if (config.vector !== 'embedded') notBuilt('ENGRAM_VECTOR', config.vector, 'the distributed read-side issue');
  if (config.cache !== 'memory') notBuilt('ENGRAM_CACHE', config.cache, 'the distributed read-side issue');
  if (config.blob !== 'fs') notBuilt('ENGRAM_BLOB', config.blob, 'the distributed read-side issue');

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
    const { log, registry, adapters } = openLog(config, dir, logger);
    const ports: Ports = {
      registry: open(registry),
      log: open(log),
      adapters,
      async close() {
        for (const port of opened.reverse()) await port.close().catch(() => undefined);
      },
    };
    if (needs.has('kv')) {
      ports.kv = open(createLmdbKvStore({ path: dir('kv') }));
      adapters.kv = 'lmdb';
    }
    // The embedded vector index and cache live in one process: on embedded defaults run `engram start`.
    if (needs.has('vectors')) {
      ports.vectors = open(await createHnswVectorIndex({ path: dir('vectors') }));
      adapters.vectors = 'hnswlib';
    }
    if (needs.has('cache')) {
      ports.cache = open(createLruCache({ maxEntries: Math.max(1, config.cacheMaxEntries) }));
      adapters.cache = 'lru';
    }
    if (needs.has('blobs')) {
      ports.blobs = open(createFsBlobStore({ root: dir('blobs') }));
      adapters.blobs = 'fs';
    }
    if (needs.has('embedder')) {
      ports.embedder = open(config.embedder === 'hash' ? createHashEmbedder({ dims: HASH_EMBEDDER_INFO.dims }) : await createMiniLmEmbedder({ modelDir: config.modelDir, quantized: config.modelPrecision === 'int8' }));
      adapters.embedder = `${ports.embedder.model.id}@${ports.embedder.model.revision}`;
    }
    return ports;
  } catch (error) {
    for (const port of opened.reverse()) await port.close().catch(() => undefined);
    throw error;
  }
}
