/**
 * DeadLetter ↔ dev.engram.v1.DeadLetter (schemas/dead-letter.avsc): a poison record with the reason
 * it was set aside, so the pipeline moves on and nothing is dropped silently.
 */
import type { SchemaRegistry } from '@engram/ports';
import { createEventCodec } from './event-codec.js';
import type { EventCodec } from './event-codec.js';

/** A record the pipeline could not process, as written to the dead-letter topic. */
export interface DeadLetter {
  /** Topic the record was read from. */
  sourceTopic: string;
  partition: number;
  offset: number;
  /** The record's key, when it had one. */
  key?: string;
  /** The record's raw value, untouched (it may be undecodable). */
  valueBytes?: Buffer;
  /** Human-readable cause. */
  reason: string;
  /** Stable EngramError code, e.g. `undecodable_record`. */
  code: string;
  /** Epoch ms of the last failure. */
  failedAt: number;
  /** How many times processing was tried. */
  attempts: number;
}

export interface AvroDeadLetter extends Omit<DeadLetter, 'key' | 'valueBytes'> {
  key: string | null;
  valueBytes: Buffer | null;
}

export function deadLetterToAvro(letter: DeadLetter): AvroDeadLetter {
  return { ...letter, key: letter.key ?? null, valueBytes: letter.valueBytes ?? null };
}

export function deadLetterFromAvro(avro: AvroDeadLetter): DeadLetter {
  const { key, valueBytes, ...rest } = avro;
  const letter: DeadLetter = { ...rest };
  if (key !== null) letter.key = key;
  if (valueBytes !== null) letter.valueBytes = valueBytes;
  return letter;
}

/** Codec for dead-letter values (registered under `<topic>-value`). */
export function createDeadLetterCodec(registry: SchemaRegistry, topic: string): EventCodec<DeadLetter> {
  return createEventCodec<DeadLetter>(registry, {
    topic,
    schema: 'dead-letter',
    toAvro: deadLetterToAvro,
    fromAvro: deadLetterFromAvro,
  });
}
