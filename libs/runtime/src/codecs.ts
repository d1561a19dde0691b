/** Registers the schemas once at start-up and hands the pipeline synchronous encoders. */
import type { SchemaRegistry } from '@engram/ports';
import type { Codec, PipelineCodecs, Topics } from '@engram/pipeline';
import {
  createDeadLetterCodec,
  createEnrichedEventCodec,
  createMemoryEventCodec,
  createMemoryStateCodec,
  type EventCodec,
} from '@engram/schemas';

async function ready<T>(codec: EventCodec<T>): Promise<Codec<T>> {
  await codec.ready();
  return { encode: (v) => codec.encodeSync(v), decode: (b) => codec.decode(b) };
}

export async function createPipelineCodecs(registry: SchemaRegistry, topics: Topics): Promise<PipelineCodecs> {
  return {
    event: await ready(createMemoryEventCodec(registry, topics.events)),
    enriched: await ready(createEnrichedEventCodec(registry, topics.enriched)),
    state: await ready(createMemoryStateCodec(registry, topics.state)),
    deadLetter: await ready(createDeadLetterCodec(registry, topics.deadLetter)),
  };
}
