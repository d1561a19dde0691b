/**
 * EnrichedEvent (libs/core) ↔ dev.engram.v1.EnrichedMemoryEvent (schemas/memory-enriched.avsc).
 * Embedding vectors travel as packed little-endian float32 bytes: 4 bytes a dimension, readable by
 * any language, a quarter of the size of a JSON or double array.
 */
import type { Embedding, EnrichedEvent } from '@engram/core';
import type { SchemaRegistry } from '@engram/ports';
import { createEventCodec } from './event-codec.js';
import type { EventCodec } from './event-codec.js';
import { memoryEventFromAvro, memoryEventToAvro } from './memory-event-codec.js';
import type { AvroMemoryEvent } from './memory-event-codec.js';

interface AvroEmbedding {
  modality: string;
  model: string;
  revision: string;
  dims: number;
  vector: Buffer;
}

export interface AvroEnrichedMemoryEvent {
  event: AvroMemoryEvent;
  sourcePartition: number;
  sourceOffset: number;
  embeddings: AvroEmbedding[];
  enrichmentError: string | null;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** float32 values as little-endian bytes. */
export function vectorToBytes(vector: Float32Array): Buffer {
  // On little-endian hosts (all we run on) the memory already is the wire format: a view, no copy.
  if (LITTLE_ENDIAN) return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
  const bytes = Buffer.allocUnsafe(vector.length * 4);
  vector.forEach((x, i) => bytes.writeFloatLE(x, i * 4));
  return bytes;
}

/** Little-endian float32 bytes as a Float32Array (copied: the bytes need not be 4-aligned). */
export function bytesToVector(bytes: Uint8Array): Float32Array {
  if (bytes.length % 4 !== 0) throw new Error(`a float32 vector cannot be ${bytes.length} bytes long`);
  const vector = new Float32Array(bytes.length / 4);
  if (LITTLE_ENDIAN) {
    new Uint8Array(vector.buffer).set(bytes);
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < vector.length; i++) vector[i] = view.getFloat32(i * 4, true);
  }
  return vector;
}

function embeddingToAvro(embedding: Embedding): AvroEmbedding {
  if (embedding.vector.length !== embedding.dims) {
    throw new Error(`embedding ${embedding.model} says ${embedding.dims} dims but has ${embedding.vector.length}`);
  }
  const { modality, model, revision, dims } = embedding;
  return { modality, model, revision, dims, vector: vectorToBytes(embedding.vector) };
}

function embeddingFromAvro(avro: AvroEmbedding): Embedding {
  const vector = bytesToVector(avro.vector);
  if (vector.length !== avro.dims) throw new Error(`embedding ${avro.model} says ${avro.dims} dims but has ${vector.length}`);
  return { modality: avro.modality, model: avro.model, revision: avro.revision, dims: avro.dims, vector };
}

/** The fields after `event`, the sequencer's own (enriched-splice.ts encodes them alone). */
export function enrichedTailToAvro(fields: Omit<EnrichedEvent, 'event'>): Omit<AvroEnrichedMemoryEvent, 'event'> {
  return {
    sourcePartition: fields.source.partition,
    sourceOffset: fields.source.offset,
    embeddings: fields.embeddings.map(embeddingToAvro),
    enrichmentError: fields.enrichmentError ?? null,
  };
}

export function enrichedEventToAvro(enriched: EnrichedEvent): AvroEnrichedMemoryEvent {
  return { event: memoryEventToAvro(enriched.event), ...enrichedTailToAvro(enriched) };
}

export function enrichedEventFromAvro(avro: AvroEnrichedMemoryEvent): EnrichedEvent {
  const enriched: EnrichedEvent = {
    event: memoryEventFromAvro(avro.event),
    source: { partition: avro.sourcePartition, offset: avro.sourceOffset },
    embeddings: avro.embeddings.map(embeddingFromAvro),
  };
  if (avro.enrichmentError !== null) enriched.enrichmentError = avro.enrichmentError;
  return enriched;
}

/** Codec for `memory-enriched` values (registered under `<topic>-value`). */
export function createEnrichedEventCodec(registry: SchemaRegistry, topic: string): EventCodec<EnrichedEvent> {
  return createEventCodec<EnrichedEvent>(registry, {
    topic,
    schema: 'memory-enriched',
    toAvro: enrichedEventToAvro,
    fromAvro: enrichedEventFromAvro,
  });
}
