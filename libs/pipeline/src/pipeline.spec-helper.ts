/**
 * Shared set-up for the pipeline's unit specs: an embedded log and schema registry in a fresh temp
 * directory, the pipeline codecs built the way the runtime builds them (the pipeline may not import
 * @engram/runtime), silent telemetry, and a dead-letter sink that records what it is given.
 * Test-only: nothing in src/ imports it except `*.spec.ts` files.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLmdbEventLog, createLmdbSchemaRegistry, type LmdbEventLog, type SchemaRegistry, type StoredRecord } from '@engram/ports';
import {
  createDeadLetterCodec,
  createEnrichedEventCodec,
  createMemoryEventCodec,
  createMemoryStateCodec,
  type EventCodec,
} from '@engram/schemas';
import type { Codec, PipelineCodecs } from './codecs.js';
import type { DeadLetterSink } from './dead-letters.js';
import { createTelemetry, type Telemetry } from './telemetry.js';
import { createTopics, topicSpecs, type Topics } from './topics.js';

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'engram-'));
}

export function silentTelemetry(): Telemetry {
  return createTelemetry({ level: 'silent', defaultMetrics: false });
}

async function ready<T>(codec: EventCodec<T>): Promise<Codec<T>> {
  await codec.ready();
  return { encode: (v) => codec.encodeSync(v), decode: (b) => codec.decode(b) };
}

/** The same construction as libs/runtime/src/codecs.ts. */
export async function createTestCodecs(registry: SchemaRegistry, topics: Topics): Promise<PipelineCodecs> {
  return {
    event: await ready(createMemoryEventCodec(registry, topics.events)),
    enriched: await ready(createEnrichedEventCodec(registry, topics.enriched)),
    state: await ready(createMemoryStateCodec(registry, topics.state)),
    deadLetter: await ready(createDeadLetterCodec(registry, topics.deadLetter)),
  };
}

export interface RecordedDeadLetter {
  record: StoredRecord;
  code: string;
  reason: string;
  attempts: number;
}

export function createRecordingDeadLetters(): DeadLetterSink & { sent: RecordedDeadLetter[] } {
  const sent: RecordedDeadLetter[] = [];
  return {
    sent,
    async send(record, failure) {
      sent.push({ record, ...failure });
    },
  };
}

export interface LogEnv {
  dir: string;
  log: LmdbEventLog;
  registry: SchemaRegistry;
  topics: Topics;
  codecs: PipelineCodecs;
  telemetry: Telemetry;
  close(): Promise<void>;
}

/** A log with every pipeline topic created, its codecs, and a `close` that removes the directory. */
export async function createLogEnv(options: { partitions?: number } = {}): Promise<LogEnv> {
  const dir = tempDir();
  const log = createLmdbEventLog({ path: path.join(dir, 'log'), pollIntervalMs: 10 });
  const registry = createLmdbSchemaRegistry({ path: path.join(dir, 'registry') });
  const topics = createTopics({ partitions: options.partitions ?? 4 });
  for (const spec of topicSpecs(topics)) await log.ensureTopic(spec);
  const codecs = await createTestCodecs(registry, topics);
  return {
    dir,
    log,
    registry,
    topics,
    codecs,
    telemetry: silentTelemetry(),
    async close() {
      await log.close();
      await registry.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns true; fails after `timeoutMs` (tests poll, they do not sleep). */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
