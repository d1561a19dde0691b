/**
 * The exact bytes Engram writes for a set of events, so the raw-LMDB baselines write the same
 * bytes in the same run:
 *
 * - {@link encodeLogRecords}: each event's Avro record (Confluent wire format) as ingest appends it
 *   to `memory-events`, and the EnrichedEvent record (with the 384-d text embedding, when the event
 *   has text) the enrichment worker appends to `memory-enriched`; encoded by Engram's own codecs.
 * - {@link readProjectionEntries}: every key/value the KV projection (and its followers' watermarks)
 *   left in the server's KV store after the run, read back from its LMDB files, grouped by event in
 *   ingest order, each key once: a shared key (keyword document frequencies and stats, watermarks)
 *   goes with the first group of `groupSize` events that touches it. The projection rewrites those
 *   in every batch, so the raw baseline does strictly less work than the projection did.
 */
import { join } from 'node:path';
import { open } from 'lmdb';
import { encodeEntityId, hlcFromWallMs, partitionForEntity, type EnrichedEvent, type MemoryEvent } from '@engram/core';
import { createPipelineCodecs, createTopics, eventRecordKey } from '@engram/pipeline';
import { createHashEmbedder, createLmdbSchemaRegistry } from '@engram/ports';
import type { EventInput } from './memory-events.js';
import type { RawRecord } from './raw-lmdb.js';

export interface LogRecords {
  events: RawRecord[];
  enriched: RawRecord[];
}

/** Encodes `inputs` as ingest and enrichment would for `tenant` (a registry is created under `dir`). */
export async function encodeLogRecords(dir: string, tenant: string, inputs: EventInput[]): Promise<LogRecords> {
  const registry = createLmdbSchemaRegistry({ path: join(dir, 'registry') });
  const embedder = createHashEmbedder({ dims: 384 });
  try {
    const codecs = await createPipelineCodecs(registry, createTopics({ partitions: 8 }));
    const base = Date.now();
    const out: LogRecords = { events: [], enriched: [] };
    for (const [i, input] of inputs.entries()) {
      const event = { ...input, tenant, actor: input.metadata.agentId, hlc: hlcFromWallMs(base + i), metadata: { ...input.metadata, attributes: {} } } as MemoryEvent;
      const key = eventRecordKey(tenant, event.eventId);
      out.events.push({ key, value: codecs.event.encode(event) });
      const enriched: EnrichedEvent = { event, source: { partition: i % 8, offset: i }, embeddings: [] };
      if (event.text !== undefined) {
        const [vector] = await embedder.embed([event.text]);
        enriched.embeddings.push({ modality: 'text', model: embedder.model.id, revision: embedder.model.revision, dims: 384, vector: vector! });
      }
      out.enriched.push({ key, value: codecs.enriched.encode(enriched) });
    }
    return out;
  } finally {
    await registry.close();
    await embedder.close();
  }
}

/** Which entity a projection key belongs to, or undefined for a shared key (counters, watermarks). */
function entityOf(key: string): string | undefined {
  const parts = key.split('|');
  switch (parts[0]) {
    case 'm':
    case 'v':
      return parts.slice(1).join('|');
    case 'h':
      return parts.slice(1, -1).join('|');
    case 'kw':
      return parts[1] === 'p' ? parts.slice(4).join('|') : undefined;
    default:
      return undefined;
  }
}

export interface ProjectionEntries {
  /** In ingest order, `groupSize` events at a time, each group followed by the shared keys it touched first. */
  records: RawRecord[];
  /** Average records per group, the transaction size that keeps one group per commit. */
  recordsPerGroup: number;
  /** Distinct keys the projection stored for the measured events (shared keys once). */
  distinctKeys: number;
}

/**
 * Reads the KV store of a stopped server (`<dataDir>/kv`) and returns the entries of `inputs` (the
 * measured events; entries of other events, e.g. a warm-up, are left out) as described above.
 */
export async function readProjectionEntries(dataDir: string, tenant: string, inputs: EventInput[], partitions: number, groupSize: number): Promise<ProjectionEntries> {
  const root = open({ path: join(dataDir, 'kv'), readOnly: true });
  const db = root.openDB<Buffer, Buffer>('kv', { keyEncoding: 'binary', encoding: 'binary' });
  const byEntity = new Map<string, RawRecord[]>();
  const shared = new Map<string, Buffer>();
  const entityOfEvent = new Map(inputs.map((e) => [e.eventId, encodeEntityId({ tenant, namespace: e.namespace, key: e.key })]));
  try {
    for (const { key, value } of db.getRange()) {
      const k = Buffer.from(key).toString('utf8');
      const v = Buffer.from(value);
      const entity = entityOf(k);
      if (entity === undefined) {
        shared.set(k, v);
        continue;
      }
      const list = byEntity.get(entity) ?? [];
      list.push({ key: k, value: v });
      byEntity.set(entity, list);
    }
  } finally {
    await root.close();
  }

  const records: RawRecord[] = [];
  let distinctKeys = shared.size;
  let groups = 0;
  for (let first = 0; first < inputs.length; first += groupSize) {
    const touched = new Set<string>();
    for (const input of inputs.slice(first, first + groupSize)) {
      const entity = entityOfEvent.get(input.eventId)!;
      const partition = partitionForEntity(entity, partitions);
      const entries = byEntity.get(entity) ?? [];
      distinctKeys += entries.length;
      records.push(...entries);
      for (const r of entries) {
        const parts = r.key.split('|');
        if (parts[0] === 'kw') touched.add(`kw|d|${parts[2]}|${parts[3]}|${partition}`);
      }
      touched.add(`kw|s|${tenant}|${partition}`);
      for (const prefix of ['w|', 'vw|', 'cw|']) touched.add(`${prefix}${partition.toString().padStart(6, '0')}`);
    }
    for (const key of touched) {
      const value = shared.get(key);
      if (value !== undefined) records.push({ key, value });
      shared.delete(key);
    }
    groups++;
  }
  return { records, recordsPerGroup: Math.max(1, Math.round(records.length / groups)), distinctKeys };
}
