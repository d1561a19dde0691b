/**
 * Every setting Engram reads, with its one documented name, default and parser. The README's
 * configuration table is printed from this list (`engram config`), so the two cannot drift.
 */
import { ValidationError } from '@engram/core';

export interface SettingDefinition<T> {
  name: string;
  default: string;
  description: string;
  parse: (raw: string, name: string) => T;
}

function fail(name: string, raw: string, expected: string): never {
  throw new ValidationError('invalid_setting', `${name}=${JSON.stringify(raw)} is invalid: expected ${expected}`, { setting: name });
}

export const oneOf =
  <T extends string>(...values: T[]) =>
  (raw: string, name: string): T =>
    (values as string[]).includes(raw) ? (raw as T) : fail(name, raw, values.join(' | '));

export const int =
  (min: number, max: number) =>
  (raw: string, name: string): number => {
    const n = Number(raw);
    return Number.isSafeInteger(n) && n >= min && n <= max ? n : fail(name, raw, `an integer in [${min}, ${max}]`);
  };

/** `auto` (resolved where the setting is used), or what `parse` accepts. */
export const autoOr =
  <T>(parse: (raw: string, name: string) => T) =>
  (raw: string, name: string): T | 'auto' =>
    raw === 'auto' ? 'auto' : parse(raw, name);

export const text = (raw: string): string => raw;

export const optionalText = (raw: string): string | undefined => (raw === '' ? undefined : raw);

export const url = (raw: string, name: string): string | undefined => {
  if (raw === '') return undefined;
  try {
    new URL(raw);
    return raw;
  } catch {
    return fail(name, raw, 'a URL');
  }
};

/** `tenant:key,tenant:key`. */
export const apiKeys = (raw: string, name: string): Array<{ tenant: string; key: string }> =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((pair) => {
      const i = pair.indexOf(':');
      if (i <= 0 || i === pair.length - 1) fail(name, pair, 'tenant:key pairs separated by commas');
      return { tenant: pair.slice(0, i), key: pair.slice(i + 1) };
    });

/** `image:512,audio:128`. */
export const vectorDims = (raw: string, name: string): Record<string, number> => {
  const dims: Record<string, number> = {};
  for (const pair of raw.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const [modality, n] = pair.split(':');
    const d = Number(n);
    if (!modality || !/^[a-z][a-z0-9_]{0,31}$/.test(modality) || modality === 'text' || !Number.isSafeInteger(d) || d < 1 || d > 8192) {
      fail(name, pair, 'modality:dims pairs (modality other than text, dims 1..8192)');
    }
    dims[modality] = d;
  }
  return dims;
};

export const SETTINGS = {
  host: { name: 'ENGRAM_HOST', default: '127.0.0.1', description: 'Interface the HTTP server binds to.', parse: text },
  port: { name: 'ENGRAM_PORT', default: '8080', description: 'HTTP port (ingest and query routes share it in `engram start`).', parse: int(0, 65535) },
  dataDir: { name: 'ENGRAM_DATA_DIR', default: './data', description: 'Where embedded stores (log, KV, registry, vectors, blobs, key hashes) live.', parse: text },
  apiKeys: { name: 'ENGRAM_API_KEYS', default: '', description: 'Preloaded keys `tenant:key,tenant:key`. Empty: an admin key for tenant `default` is generated on first start and printed once.', parse: apiKeys },
  log: { name: 'ENGRAM_LOG', default: 'embedded', description: 'Event log: `embedded` (LMDB) or `kafka`.', parse: oneOf('embedded', 'kafka') },
  kv: { name: 'ENGRAM_KV', default: 'embedded', description: 'State store: `embedded` (LMDB) or `tikv`.', parse: oneOf('embedded', 'tikv') },
  vector: { name: 'ENGRAM_VECTOR', default: 'embedded', description: 'Vector index: `embedded` (hnswlib) or `milvus`.', parse: oneOf('embedded', 'milvus') },
  cache: { name: 'ENGRAM_CACHE', default: 'memory', description: 'Hot-entry cache: `memory` (LRU) or `redis`.', parse: oneOf('memory', 'redis') },
  blob: { name: 'ENGRAM_BLOB', default: 'fs', description: 'Cold storage: `fs` (local directory) or `gcs`.', parse: oneOf('fs', 'gcs') },
  embedder: { name: 'ENGRAM_EMBEDDER', default: 'minilm', description: 'Text embedder: `minilm` (all-MiniLM-L6-v2 on onnxruntime-node; missing files come from the Hugging Face hub at start-up, or offline from `npm run model:fetch`) or `hash` (deterministic feature hashing, a test double).', parse: oneOf('minilm', 'hash') },
  modelDir: { name: 'ENGRAM_MODEL_DIR', default: '.cache/models', description: 'Directory holding the embedding model (`Xenova/all-MiniLM-L6-v2/…`, as `npm run model:fetch` lays it out).', parse: text },
  modelPrecision: { name: 'ENGRAM_MODEL_PRECISION', default: 'int8', description: 'Weights of the sentence model: `int8` (quantized, faster) or `fp32`.', parse: oneOf('int8', 'fp32') },
  projectionBatchMax: { name: 'ENGRAM_PROJECTION_BATCH_MAX', default: 'auto', description: 'Most records the KV projection (and the changelog emitter) handle in one batch: larger batches write faster in bursts but hold their event loop longer. `auto` = 2000 for the KV projection on the projection thread (no request waits on its loop), 500 for the changelog emitter and where they share the loop with HTTP (docs/decisions.md, "Batch sizes").', parse: autoOr(int(1, 100_000)) },
  projectionThread: { name: 'ENGRAM_PROJECTION_THREAD', default: 'on', description: 'With the embedded log and KV, `engram start` runs the KV projection and the changelog emitter in a worker thread of their own (`on`), so they use the second core beside HTTP, enrichment and the vector indexer; `off` runs everything on the main thread.', parse: oneOf('on', 'off') },
  keywordIndex: { name: 'ENGRAM_KEYWORD_INDEX', default: 'auto', description: 'Where keyword (BM25) search keeps its index: `memory` (in the process that serves searches, rebuilt from the KV projection at start; embedded KV only, one query process per data directory), `kv` (postings in the KV store, written by the projection: any number of query processes), `auto` = `memory` with the embedded KV, `kv` with TiKV. Switching an existing data directory to `kv` needs the KV projection rebuilt from the log (docs/decisions.md, "Keyword search").', parse: oneOf('auto', 'memory', 'kv') },
  vectorBatchMax: { name: 'ENGRAM_VECTOR_BATCH_MAX', default: '100', description: 'Most records the vector indexer handles in one batch: latency to vector-visible against bulk indexing rate (see BENCHMARKS.md).', parse: int(1, 100_000) },
  embedBatchMax: { name: 'ENGRAM_EMBED_BATCH_MAX', default: '256', description: 'Most texts the enrichment worker embeds in one call (dynamic batching: up to this many, or what arrived within ENGRAM_EMBED_LINGER_MS); a sequencing batch takes up to 1,000 records (or this many, if more) and embeds its texts in calls of this size.', parse: int(1, 10_000) },
  embedLingerMs: { name: 'ENGRAM_EMBED_LINGER_MS', default: '0', description: 'How long the enrichment worker waits for a batch to fill after its first event (0: embed whatever one poll returns; see docs/decisions.md).', parse: int(0, 10_000) },
  kafkaBrokers: { name: 'ENGRAM_KAFKA_BROKERS', default: '', description: 'Kafka bootstrap servers `host:port,host:port` (ENGRAM_LOG=kafka).', parse: optionalText },
  schemaRegistryUrl: { name: 'ENGRAM_SCHEMA_REGISTRY_URL', default: '', description: 'Confluent-API schema registry URL (ENGRAM_LOG=kafka).', parse: url },
  kafkaTransactionalId: { name: 'ENGRAM_KAFKA_TRANSACTIONAL_ID', default: 'engram-sequencer', description: 'Kafka transactional id of the enrichment worker (the sequencer); stable across its restarts (a restart fences the old instance), distinct per instance.', parse: text },
  kafkaDedupeWindow: { name: 'ENGRAM_KAFKA_DEDUPE_WINDOW', default: '10000', description: 'Records per partition whose event ids ingest and the sequencer remember to drop re-sent events on Kafka (loaded from the topic tail at start).', parse: int(1, 10_000_000) },
  tikvPd: { name: 'ENGRAM_TIKV_PD', default: '', description: 'TiKV placement driver endpoints (ENGRAM_KV=tikv).', parse: optionalText },
  milvusAddress: { name: 'ENGRAM_MILVUS_ADDRESS', default: '', description: 'Milvus address `host:port` (ENGRAM_VECTOR=milvus).', parse: optionalText },
  redisUrl: { name: 'ENGRAM_REDIS_URL', default: '', description: 'Redis URL (ENGRAM_CACHE=redis).', parse: url },
  gcsEndpoint: { name: 'ENGRAM_GCS_ENDPOINT', default: '', description: 'GCS API endpoint (an emulator in tests; empty = Google).', parse: url },
  gcsBucket: { name: 'ENGRAM_GCS_BUCKET', default: '', description: 'GCS bucket for archives (ENGRAM_BLOB=gcs).', parse: optionalText },
  partitions: { name: 'ENGRAM_PARTITIONS', default: '8', description: 'Partitions of every topic; fixed per deployment (changing it means replaying into new topics).', parse: int(1, 1024) },
  replicationFactor: { name: 'ENGRAM_REPLICATION_FACTOR', default: '1', description: 'Replicas of every topic partition on Kafka (3 in production; 1 for a single dev broker). The embedded log ignores it.', parse: int(1, 16) },
  topicPrefix: { name: 'ENGRAM_TOPIC_PREFIX', default: '', description: 'Prefix for topic names (`<prefix>memory-events`, …).', parse: text },
  logLevel: { name: 'ENGRAM_LOG_LEVEL', default: 'info', description: 'pino log level.', parse: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent') },
  maxBodyBytes: { name: 'ENGRAM_MAX_BODY_BYTES', default: '1048576', description: 'Largest request body; larger is 413 `body_too_large`.', parse: int(1024, 256 * 1024 * 1024) },
  maxBatchSize: { name: 'ENGRAM_MAX_BATCH_SIZE', default: '1000', description: 'Most events in one POST /v1/events; more is 413 `limit_exceeded`.', parse: int(1, 100_000) },
  maxValueBytes: { name: 'ENGRAM_MAX_VALUE_BYTES', default: '262144', description: 'Largest value or patch (UTF-8 JSON bytes) of one event.', parse: int(16, 64 * 1024 * 1024) },
  maxTextLength: { name: 'ENGRAM_MAX_TEXT_LENGTH', default: '32768', description: 'Longest `text` of one event, in characters.', parse: int(1, 16 * 1024 * 1024) },
  maxKeyLength: { name: 'ENGRAM_MAX_KEY_LENGTH', default: '512', description: 'Longest key, in bytes.', parse: int(1, 4096) },
  vectorDims: { name: 'ENGRAM_VECTOR_DIMS', default: '', description: 'Client-supplied vector modalities and their dims, `image:512,audio:128`; each gets its own index.', parse: vectorDims },
  consistencyTimeoutMs: { name: 'ENGRAM_CONSISTENCY_TIMEOUT_MS', default: '5000', description: 'Longest a read waits for `consistentWith` or `?wait=applied`; then it answers 504 `consistency_timeout`.', parse: int(1, 600_000) },
  cacheMaxEntries: { name: 'ENGRAM_CACHE_MAX_ENTRIES', default: '10000', description: 'Entries in the in-process LRU (L1).', parse: int(0, 10_000_000) },
  expirySweepMs: { name: 'ENGRAM_EXPIRY_SWEEP_MS', default: '5000', description: 'How often the projection worker appends deletions for memories past `expiresAt` (reads hide them at once).', parse: int(100, 86_400_000) },
  shutdownTimeoutMs: { name: 'ENGRAM_SHUTDOWN_TIMEOUT_MS', default: '10000', description: 'How long SIGTERM waits for in-flight work before exiting.', parse: int(0, 600_000) },
} satisfies Record<string, SettingDefinition<unknown>>;

export type SettingKey = keyof typeof SETTINGS;
