/**
 * Shared pieces of the end-to-end tests that run Engram's apps as separate processes on the real
 * Kafka broker and schema registry (`npm run engines:up`): per-run settings (unique topics and
 * transactional id), a KV directory that several processes share (the embedded KV stands in for
 * TiKV: LMDB allows many processes on one environment), and a replay that projects
 * `memory-enriched` from the start into a fresh KV, to compare with what the live workers built.
 */
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '@engram/config';
import {
  STATE_PREFIX,
  createAppliedWatermarks,
  createDeadLetterSink,
  createPipelineCodecs,
  createProjector,
  createTelemetry,
  createTopics,
} from '@engram/pipeline';
import type { KvStore } from '@engram/ports';
import { engineEnv, tempDataDir } from '@engram/testing';
import { openPorts } from '@engram/runtime';

export const PARTITIONS = 4;

/** ENGRAM_* settings of one test run's processes: the engines, and topics nobody else uses. */
export function kafkaSettings(brokers: string, label: string): Record<string, string> {
  const registry = engineEnv().ENGRAM_SCHEMA_REGISTRY_URL;
  if (registry === undefined) throw new Error('ENGRAM_SCHEMA_REGISTRY_URL is not set (npm run engines:up starts the registry with Kafka)');
  const run = `${label}-${randomBytes(4).toString('hex')}`;
  return {
    ENGRAM_LOG: 'kafka',
    ENGRAM_KAFKA_BROKERS: brokers,
    ENGRAM_SCHEMA_REGISTRY_URL: registry,
    ENGRAM_TOPIC_PREFIX: `${run}-`,
    ENGRAM_KAFKA_TRANSACTIONAL_ID: run,
    ENGRAM_PARTITIONS: String(PARTITIONS),
    ENGRAM_EMBEDDER: 'hash',
  };
}

/** A data directory of its own for one process, whose `kv/` is the shared one. */
export function dataDirSharingKv(sharedKv: string): string {
  const dir = tempDataDir();
  symlinkSync(sharedKv, join(dir, 'kv'), 'dir');
  return dir;
}

export function sharedKvDir(): { root: string; kv: string } {
  const root = tempDataDir();
  const kv = join(root, 'kv');
  mkdirSync(kv);
  return { root, kv };
}

/** Every key → value (as text) under `prefix`. */
export async function dump(kv: KvStore, prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor: string | undefined;
  do {
    const page = await kv.scan({ prefix, limit: 1000, ...(cursor === undefined ? {} : { after: cursor }) });
    for (const { key, value } of page.entries) out.set(key, value.toString('utf8'));
    cursor = page.cursor;
  } while (cursor !== undefined);
  return out;
}

/**
 * Projects the whole of `memory-enriched` (as the settings name it), partition by partition, into a
 * fresh embedded KV, and returns that KV's states and history (`m|`, `h|`); `close` removes it.
 */
export async function replayEnriched(settings: Record<string, string>): Promise<{ states: Map<string, string>; history: Map<string, string>; records: number; close(): Promise<void> }> {
  const dataDir = tempDataDir();
  const config = loadConfig({ ...settings, ENGRAM_DATA_DIR: dataDir, ENGRAM_KAFKA_TRANSACTIONAL_ID: `${settings.ENGRAM_KAFKA_TRANSACTIONAL_ID}-replay` });
  const ports = await openPorts(config, new Set(['kv', 'cache'] as const));
  const kv = ports.kv!;
  const telemetry = createTelemetry({ level: 'silent', defaultMetrics: false });
  const topics = createTopics({ prefix: config.topicPrefix, partitions: config.partitions });
  const codecs = await createPipelineCodecs(ports.registry, topics);
  const watermarks = createAppliedWatermarks({ kv, partitions: topics.partitions });
  const projector = createProjector({
    kv,
    cache: ports.cache!,
    log: ports.log,
    codecs,
    topics,
    watermarks,
    deadLetters: createDeadLetterSink({ log: ports.log, codecs, topics, telemetry }),
    telemetry,
  });
  let records = 0;
  for (let p = 0; p < topics.partitions; p++) {
    for (let next = 0; ; ) {
      const batch = await ports.log.read(topics.enriched, p, next, 500);
      if (batch.length === 0) break;
      await projector.project(batch);
      records += batch.length;
      next = batch[batch.length - 1]!.offset + 1;
    }
  }
  const states = await dump(kv, STATE_PREFIX);
  const history = await dump(kv, 'h|');
  return {
    states,
    history,
    records,
    async close() {
      watermarks.close();
      await ports.close();
    },
  };
}
