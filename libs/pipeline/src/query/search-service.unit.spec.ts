import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Embedder, KvStore, VectorIndex } from '@engram/ports';
import { encodeToken } from '../consistency-token.js';
import { createAppliedWatermarks } from '../projection/applied-watermarks.js';
import type { VectorCollections } from '../projection/vector-collections.js';
import { silentTelemetry } from '../pipeline.spec-helper.js';
import type { QueryService } from './query-service.js';
import { createSearchService } from './search-service.js';

describe('search service', () => {
  it('embeds the query while it waits for the vector index to cover the token', async () => {
    const steps: string[] = [];
    const embedder = {
      model: { id: 'test-model', revision: '1', dims: 2 },
      embed: async (texts: string[]) => {
        steps.push(`embed ${texts.join(',')}`);
        return texts.map(() => Float32Array.from([1, 0]));
      },
    } as unknown as Embedder;
    const vectors = {
      search: async () => {
        steps.push('search');
        return [];
      },
    } as unknown as VectorIndex;
    const collections: VectorCollections = { nameFor: () => 'text-1', specs: () => [], modelFor: () => 'test-model@1' };
    const query = { waitFor: async () => undefined, states: async () => new Map() } as unknown as QueryService;
    const vectorWatermarks = createAppliedWatermarks({ partitions: 1, follow: 'announced' });
    const service = createSearchService({ kv: {} as KvStore, vectors, embedder, collections, query, vectorWatermarks, consistencyTimeoutMs: 5000, telemetry: silentTelemetry() });

    const answer = service.search({ query: 'cats', k: 1, mode: 'vector', filter: { tenant: 'acme' }, consistentWith: encodeToken(new Map([[0, 7]])) });
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(steps, ['embed cats'], 'embedded before the index covered the token, not searched yet');
    vectorWatermarks.advance(0, 7);
    assert.deepEqual((await answer).results, []);
    assert.deepEqual(steps, ['embed cats', 'search']);
  });
});
