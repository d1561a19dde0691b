/**
 * The codecs the pipeline needs, as the pipeline sees them: encode is synchronous (hot path, the
 * schema id is registered at start-up), decode may have to fetch an unknown writer schema by id.
 * The runtime builds them from @engram/schemas.
 */
import type { EnrichedEvent, MemoryEvent, MemoryState } from '@engram/core';
import type { DeadLetter } from '@engram/schemas';

export interface Codec<T> {
  encode(value: T): Buffer;
  decode(data: Buffer): Promise<T>;
}

export interface PipelineCodecs {
  event: Codec<MemoryEvent>;
  enriched: Codec<EnrichedEvent>;
  state: Codec<MemoryState>;
  deadLetter: Codec<DeadLetter>;
}
