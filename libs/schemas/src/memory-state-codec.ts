/**
 * MemoryState (libs/core) ↔ dev.engram.v1.MemoryState (schemas/memory-state.avsc). The value is JSON
 * text (a document can be any JSON); counter and set CRDT state are nested records, so readers in
 * other languages can use them without a JSON schema of their own.
 */
import type { JsonValue, MemoryState } from '@engram/core';
import type { SchemaRegistry } from '@engram/ports';
import { createEventCodec } from './event-codec.js';
import type { EventCodec } from './event-codec.js';
import { jsonText, metadataFromAvro, metadataToAvro } from './memory-event-codec.js';
import type { AvroEventMetadata } from './memory-event-codec.js';

export interface AvroMemoryState {
  tenant: string;
  namespace: string;
  key: string;
  kind: MemoryState['kind'];
  valueJson: string;
  deleted: boolean;
  text: string | null;
  metadata: AvroEventMetadata;
  version: number;
  hlc: number;
  createdHlc: number;
  versionVector: Record<string, number>;
  lastApplied: { partition: number; offset: number };
  expiresAt: number | null;
  counter: { p: Record<string, number>; n: Record<string, number> } | null;
  set: { adds: Record<string, string[]>; removedAt: Record<string, number> } | null;
  embeddingModel: string | null;
  archive: { uri: string; archivedAt: number } | null;
}

export function memoryStateToAvro(state: MemoryState): AvroMemoryState {
  return {
    tenant: state.tenant,
    namespace: state.namespace,
    key: state.key,
    kind: state.kind,
    valueJson: jsonText(state.value),
    deleted: state.deleted,
    text: state.text ?? null,
    metadata: metadataToAvro(state.metadata),
    version: state.version,
    hlc: state.hlc,
    createdHlc: state.createdHlc,
    versionVector: state.versionVector,
    lastApplied: { partition: state.lastApplied.partition, offset: state.lastApplied.offset },
    expiresAt: state.expiresAt ?? null,
    counter: state.counter === undefined ? null : { p: state.counter.p, n: state.counter.n },
    set: state.set === undefined ? null : { adds: state.set.adds, removedAt: state.set.removedAt },
    embeddingModel: state.embeddingModel ?? null,
    archive: state.archive === undefined ? null : { uri: state.archive.uri, archivedAt: state.archive.archivedAt },
  };
}

export function memoryStateFromAvro(avro: AvroMemoryState): MemoryState {
  const state: MemoryState = {
    tenant: avro.tenant,
    namespace: avro.namespace,
    key: avro.key,
    kind: avro.kind,
    value: JSON.parse(avro.valueJson) as JsonValue,
    deleted: avro.deleted,
    metadata: metadataFromAvro(avro.metadata),
    version: avro.version,
    hlc: avro.hlc,
    createdHlc: avro.createdHlc,
    versionVector: avro.versionVector,
    lastApplied: { partition: avro.lastApplied.partition, offset: avro.lastApplied.offset },
  };
  if (avro.text !== null) state.text = avro.text;
  if (avro.expiresAt !== null) state.expiresAt = avro.expiresAt;
  if (avro.counter !== null) state.counter = { p: avro.counter.p, n: avro.counter.n };
  if (avro.set !== null) state.set = { adds: avro.set.adds, removedAt: avro.set.removedAt };
  if (avro.embeddingModel !== null) state.embeddingModel = avro.embeddingModel;
  if (avro.archive !== null) state.archive = { uri: avro.archive.uri, archivedAt: avro.archive.archivedAt };
  return state;
}

/** Codec for `memory-state` values (registered under `<topic>-value`). */
export function createMemoryStateCodec(registry: SchemaRegistry, topic: string): EventCodec<MemoryState> {
  return createEventCodec<MemoryState>(registry, {
    topic,
    schema: 'memory-state',
    toAvro: memoryStateToAvro,
    fromAvro: memoryStateFromAvro,
  });
}
