/**
 * The sequencer's codec: reads what enrichment needs of a `memory-events` value and writes its
 * `memory-enriched` value, without turning the event into a MemoryEvent and back.
 *
 * An EnrichedMemoryEvent starts with its `event` field (a MemoryEvent record), and the Avro binary
 * of a record is its fields' encodings one after the other. So when a `memory-events` value was
 * written with the reader schema itself (every value Engram writes), its body (the bytes after the
 * wire-format header) already is the first field of the enriched value, and only the sequencer's
 * own fields are encoded: header + event body + tail. That skips parsing the value's JSON, building
 * the MemoryEvent, and serializing and encoding it again (~8 µs of the ~9 µs per event that
 * decode + encode took in a microbench; bench/results/pipeline.md, "Session 7"). A value written
 * with another schema takes the full decode and encode.
 *
 * The event's JSON fields (`valueJson`, `patchJson`) travel unparsed: a value whose JSON does not
 * parse (a foreign producer's) is dead-lettered by the projection, which decodes every record.
 */
import type { EnrichedEvent, EventType, MemoryEvent } from '@engram/core';
import type { types } from 'avsc';
import type { EventCodec } from './event-codec.js';
import { enrichedTailToAvro } from './enriched-event-codec.js';
import { avroEventType, type AvroMemoryEvent } from './memory-event-codec.js';
import { loadSchema, parseAvro, type AvroSchemaJson } from './schema-files.js';

/** What the sequencer needs of an event. */
export interface SequencedEvent {
  type: EventType;
  text: string | undefined;
  /** Client-supplied vectors by modality. */
  vectors: Record<string, number[]> | undefined;
}

/** The sequencer's fields of an enriched event. */
export type EnrichmentFields = Omit<EnrichedEvent, 'event'>;

export interface SequencerCodec {
  /** Decodes a `memory-events` value (undecodable_record as `decode` would). */
  read(value: Buffer): Promise<SequencedEvent>;
  /** The `memory-enriched` value of an event `read` returned, with the sequencer's fields. */
  enriched(event: SequencedEvent, fields: EnrichmentFields): Buffer;
}

interface Read extends SequencedEvent {
  /** The event's reader-schema Avro body, when it can be spliced. */
  body?: Buffer;
  /** Otherwise the decoded event. */
  event?: MemoryEvent;
}

/** The enriched record without its first field: encodes the bytes that follow the event. */
const tailType = (() => {
  const json = loadSchema('memory-enriched').json as { fields: Array<{ name: string }> } & AvroSchemaJson;
  if (json.fields[0]?.name !== 'event') throw new Error('memory-enriched.avsc: `event` must stay its first field');
  return parseAvro({ type: 'record', name: 'EnrichedTail', namespace: 'dev.engram.v1', fields: json.fields.slice(1) });
})();

/** True when the MemoryEvent that memory-enriched nests is exactly the memory-events reader schema. */
function sameEventSchema(): boolean {
  const nested = (loadSchema('memory-enriched').type as types.RecordType).field('event').type;
  return nested.fingerprint().equals(loadSchema('memory-event').type.fingerprint());
}

export function createSequencerCodec(events: EventCodec<MemoryEvent>, enriched: EventCodec<EnrichedEvent>): SequencerCodec {
  const splices = sameEventSchema();
  return {
    async read(value) {
      const { avro, body } = await events.decodeAvro(value);
      const a = avro as AvroMemoryEvent;
      if (splices && body !== undefined) {
        const read: Read = { type: avroEventType(a), text: a.text ?? undefined, vectors: a.vectors ?? undefined, body };
        return read;
      }
      // Another writer schema (rare): the event itself, resolved and checked by the full decode.
      const event = await events.decode(value);
      const read: Read = { type: event.type, text: event.text, vectors: event.vectors, event };
      return read;
    },

    enriched(event, fields) {
      const { body, event: decoded } = event as Read;
      if (body !== undefined) return enriched.wrap([body, tailType.toBuffer(enrichedTailToAvro(fields))]);
      return enriched.encodeSync({ ...fields, event: decoded! });
    },
  };
}
