/**
 * The codecs the pipeline needs, as the pipeline sees them: encode is synchronous (hot path, the
 * schema id is registered at start-up), decode may have to fetch an unknown writer schema by id.
 * The runtime builds them from @engram/schemas.
 */
import type { EnrichedEvent, MemoryEvent, MemoryState } from '@engram/core';
import type { SchemaRegistry } from '@engram/ports';
import {
  createDeadLetterCodec,
  createEnrichedEventCodec,
  createMemoryEventCodec,
  createMemoryStateCodec,
  createSequencerCodec,
  type DeadLetter,
  type EventCodec,
  type SequencerCodec,
} from '@engram/schemas';
import type { Topics } from './topics.js';

export interface Codec<T> {
  encode(value: T): Buffer;
  decode(data: Buffer): Promise<T>;
}

export interface PipelineCodecs {
  event: Codec<MemoryEvent>;
  enriched: Codec<EnrichedEvent>;
  state: Codec<MemoryState>;
  deadLetter: Codec<DeadLetter>;
  /** The enrichment worker's: `memory-events` in, `memory-enriched` out, the event's bytes passed on as they are. */
  sequencer: SequencerCodec;
}

async function ready<T>(codec: EventCodec<T>): Promise<Codec<T>> {
  await codec.ready();
  return { encode: (v) => codec.encodeSync(v), decode: (b) => codec.decode(b) };
}

/** Registers the schemas (once, at start-up) and hands the pipeline synchronous encoders. */
export async function createPipelineCodecs(registry: SchemaRegistry, topics: Topics): Promise<PipelineCodecs> {
  const event = createMemoryEventCodec(registry, topics.events);
  const enriched = createEnrichedEventCodec(registry, topics.enriched);
  return {
    event: await ready(event),
    enriched: await ready(enriched),
    state: await ready(createMemoryStateCodec(registry, topics.state)),
    deadLetter: await ready(createDeadLetterCodec(registry, topics.deadLetter)),
    sequencer: createSequencerCodec(event, enriched),
  };
}
