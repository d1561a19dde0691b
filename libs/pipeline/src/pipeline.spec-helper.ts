/**
 * Shared set-up for the pipeline's unit specs: an embedded log and schema registry in a fresh temp
 * directory, the pipeline codecs (as the runtime builds them), silent telemetry, and a dead-letter sink that records what it is given.
 * Test-only: nothing in src/ imports it except `*.spec.ts` files.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeEntityId, hlcFromWallMs, partitionForEntity, type EnrichedEvent, type EventEnvelope, type MemoryEvent } from '@engram/core';
import { createLmdbEventLog, createLmdbSchemaRegistry, type Embedder, type LmdbEventLog, type SchemaRegistry, type StoredRecord } from '@engram/ports';
import { createPipelineCodecs, type PipelineCodecs } from './codecs.js';
import type { DeadLetterSink } from './dead-letters.js';
import { createTelemetry, type Telemetry } from './telemetry.js';
import { createTopics, eventRecordKey, topicSpecs, type Topics } from './topics.js';
import { clientEmbedding } from './projection/vector-collections.js';

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'engram-'));
}

export function silentTelemetry(): Telemetry {
  return createTelemetry({ level: 'silent', defaultMetrics: false });
}

/** The codecs exactly as the runtime builds them. */
export const createTestCodecs = createPipelineCodecs;

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

/** The part of an event that differs by type (see libs/core/src/events.ts). */
export type EventBody =
  | { type: 'MemoryWritten'; value: unknown }
  | { type: 'MemoryPatched'; patch: unknown }
  | { type: 'MemoryDeleted' }
  | { type: 'CounterIncremented'; delta: number }
  | { type: 'SetElementsAdded'; elements: string[] }
  | { type: 'SetElementsRemoved'; elements: string[] };

let testEventSeq = 0;

/**
 * A valid event of `acme/notes/<key>` by `agent-1`, with a fresh event id and an HLC that grows with
 * every call; `extra` overrides any envelope field (tenant, text, metadata, expectedVersion…).
 */
export function makeEvent(key: string, body: EventBody, extra: Partial<EventEnvelope> = {}): MemoryEvent {
  const seq = ++testEventSeq;
  return {
    eventId: `ev-${seq}`,
    tenant: 'acme',
    namespace: 'notes',
    key,
    actor: 'agent-1',
    hlc: hlcFromWallMs(Date.UTC(2024, 0, 1) + seq),
    metadata: { tags: [], attributes: {} },
    ...body,
    ...extra,
  } as MemoryEvent;
}

/** The first key `<prefix><n>` of `acme/notes` whose entity lives on `partition`. */
export function keyOnPartition(partition: number, partitions: number, prefix = 'k'): string {
  for (let n = 0; ; n++) {
    const key = `${prefix}${n}`;
    if (partitionForEntity(encodeEntityId({ tenant: 'acme', namespace: 'notes', key }), partitions) === partition) return key;
  }
}

/**
 * Does what ingest and the enrichment worker do for `events`, in order: appends each to
 * `memory-events` on its entity's partition (that position becomes the source), embeds its text with
 * `embedder` (unless it is a delete), appends the EnrichedEvent to `memory-enriched`, and returns the
 * stored enriched records as a consumer would receive them.
 */
/**
 * Appends each event to `memory-events` and its enrichment (the text embedded by `embedder`) to
 * `memory-enriched`; `failed: true` enriches as a failed embedding does (no vector, an error).
 */
export async function appendEnriched(env: LogEnv, embedder: Embedder, events: MemoryEvent[], options: { failed?: boolean } = {}): Promise<StoredRecord[]> {
  const records: StoredRecord[] = [];
  for (const event of events) {
    const entityId = encodeEntityId(event);
    const partition = partitionForEntity(entityId, env.topics.partitions);
    const key = eventRecordKey(event.tenant, event.eventId);
    const [source] = await env.log.append(env.topics.events, [{ key, partition, value: env.codecs.event.encode(event) }]);
    const enriched: EnrichedEvent = { event, source: { partition, offset: source!.offset }, embeddings: [] };
    if (event.type !== 'MemoryDeleted' && event.text && options.failed) {
      enriched.enrichmentError = 'embedding failed (test)';
    } else if (event.type !== 'MemoryDeleted' && event.text) {
      const [vector] = await embedder.embed([event.text]);
      const { id, revision, dims } = embedder.model;
      enriched.embeddings.push({ modality: 'text', model: id, revision, dims, vector: vector! });
    }
    for (const [modality, values] of Object.entries(event.vectors ?? {})) enriched.embeddings.push(clientEmbedding(modality, values));
    const [stored] = await env.log.append(env.topics.enriched, [{ key, partition, value: env.codecs.enriched.encode(enriched) }]);
    records.push(...(await env.log.read(env.topics.enriched, partition, stored!.offset, 1)));
  }
  return records;
}

/** Appends a value no codec can decode to `memory-enriched` and returns it as stored. */
export async function appendUndecodable(env: LogEnv, partition: number): Promise<StoredRecord> {
  const [stored] = await env.log.append(env.topics.enriched, [{ key: 'acme|garbage', partition, value: Buffer.from('not avro at all') }]);
  const [record] = await env.log.read(env.topics.enriched, partition, stored!.offset, 1);
  return record!;
}
