/**
 * The only place (with each app's main.ts) that reads the environment: parse every ENGRAM_* setting
 * once, validate it, and hand the apps a typed, frozen config.
 */
import { DEFAULT_LIMITS, ValidationError, type Limits } from '@engram/core';
import { SETTINGS, type SettingKey } from './settings.js';

export type EngramConfig = { [K in SettingKey]: ReturnType<(typeof SETTINGS)[K]['parse']> } & { limits: Limits };

/** Parse and validate settings from an environment (defaults to process.env). Unknown ENGRAM_* names are an error: a typo must not silently fall back to a default. */
export function loadConfig(env: Record<string, string | undefined> = process.env): EngramConfig {
  const known = new Set(Object.values(SETTINGS).map((s) => s.name));
  const unknown = Object.keys(env).filter((n) => n.startsWith('ENGRAM_') && !known.has(n) && !IGNORED.has(n));
  if (unknown.length > 0) {
    throw new ValidationError('unknown_setting', `unknown setting(s): ${unknown.join(', ')} (see the configuration table in README.md)`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(SETTINGS)) {
    out[key] = def.parse(env[def.name] ?? def.default, def.name);
  }
  const config = out as Omit<EngramConfig, 'limits'>;
  requireConnection(config.log === 'kafka', config.kafkaBrokers, 'ENGRAM_KAFKA_BROKERS', 'ENGRAM_LOG=kafka');
  requireConnection(config.log === 'kafka', config.schemaRegistryUrl, 'ENGRAM_SCHEMA_REGISTRY_URL', 'ENGRAM_LOG=kafka');
  requireConnection(config.kv === 'tikv', config.tikvPd, 'ENGRAM_TIKV_PD', 'ENGRAM_KV=tikv');
  requireConnection(config.vector === 'milvus', config.milvusAddress, 'ENGRAM_MILVUS_ADDRESS', 'ENGRAM_VECTOR=milvus');
  requireConnection(config.cache === 'redis', config.redisUrl, 'ENGRAM_REDIS_URL', 'ENGRAM_CACHE=redis');
  requireConnection(config.blob === 'gcs', config.gcsBucket, 'ENGRAM_GCS_BUCKET', 'ENGRAM_BLOB=gcs');
  if (config.keywordIndex === 'memory' && config.kv !== 'embedded') {
    // Each query process would hold its own index, fed by a share of one consumer group's partitions.
    throw new ValidationError('conflicting_settings', 'ENGRAM_KEYWORD_INDEX=memory needs ENGRAM_KV=embedded (one query process per data directory); with a shared KV store use kv (or auto)', { setting: 'ENGRAM_KEYWORD_INDEX' });
  }
  const limits: Limits = {
    ...DEFAULT_LIMITS,
    maxBodyBytes: config.maxBodyBytes,
    maxBatchSize: config.maxBatchSize,
    maxValueBytes: config.maxValueBytes,
    maxTextLength: config.maxTextLength,
    maxKeyLength: config.maxKeyLength,
    vectorDims: config.vectorDims,
  };
  return Object.freeze({ ...config, limits });
}

/**
 * Variables that start with ENGRAM_ but are not settings of the server (test and CI switches, and
 * ENGRAM_ENGINES_PYTHON, the venv python that engines:up lists in .engines/env for the tests).
 */
const IGNORED = new Set(['ENGRAM_REQUIRE_ENGINES', 'ENGRAM_E2E_KEEP_DATA', 'ENGRAM_ENGINES_PYTHON']);

function requireConnection(needed: boolean, value: unknown, name: string, because: string): void {
  if (needed && (value === undefined || value === '')) {
    throw new ValidationError('missing_setting', `${name} is required when ${because}`, { setting: name });
  }
}

/** The configuration table as Markdown, for README.md and `engram config`. */
export function configTable(): string {
  const rows = Object.values(SETTINGS).map((s) => `| \`${s.name}\` | ${s.default === '' ? '(empty)' : `\`${s.default}\``} | ${s.description} |`);
  return ['| setting | default | meaning |', '|---|---|---|', ...rows].join('\n');
}
