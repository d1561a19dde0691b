/**
 * Search (DESIGN.md section 5): `vector` (the query embedded by the model that built the index),
 * `keyword` (BM25, over the in-memory or the KV keyword index) or `hybrid` (reciprocal-rank fusion
 * of both). Filters and the tenant apply in every mode. When the vector index fails with a retriable
 * error, search answers from keywords alone and says `degraded: true`.
 */
import { LRUCache } from 'lru-cache';
import { ValidationError, isEngramError, withFields, type MemoryState } from '@engram/core';
import { embeddingModelKey, matchesFilter, type Embedder, type KvStore, type VectorFilter, type VectorIndex } from '@engram/ports';
import { decodeToken } from '../consistency-token.js';
import type { AppliedWatermarks } from '../projection/applied-watermarks.js';
import type { VectorCollections } from '../projection/vector-collections.js';
import { vectorFields } from '../projection/vector-updates.js';
import { kvKeywordPostings, reciprocalRankFusion, searchKeyword, type KeywordPostings } from '../search/index.js';
import type { Telemetry } from '../telemetry.js';
import { isVisible, toView, type MemoryView } from './memory-view.js';
import type { QueryService } from './query-service.js';

export type SearchMode = 'vector' | 'keyword' | 'hybrid';

export interface SearchRequest {
  query?: string;
  vector?: number[];
  /** Which vector collection a raw `vector` is compared with. @default 'text' */
  modality?: string;
  k: number;
  mode: SearchMode;
  filter: VectorFilter;
  consistentWith?: string;
}

export interface SearchHit extends MemoryView {
  score: number;
}

export interface SearchResponse {
  mode: SearchMode;
  degraded: boolean;
  results: SearchHit[];
}

export interface SearchService {
  search(request: SearchRequest): Promise<SearchResponse>;
}

export function createSearchService(deps: {
  kv: KvStore;
  vectors: VectorIndex;
  embedder: Embedder;
  collections: VectorCollections;
  query: QueryService;
  /** The vector indexer's progress: vector and hybrid searches with `consistentWith` wait for it too. */
  vectorWatermarks: AppliedWatermarks;
  /** Where keyword search reads postings. @default the KV keyword index (kvKeywordPostings) */
  keyword?: KeywordPostings;
  /**
   * The progress of an index that is not updated with the KV projection (the in-memory one):
   * keyword and hybrid searches with `consistentWith` wait for it too.
   */
  keywordWatermarks?: AppliedWatermarks;
  consistencyTimeoutMs: number;
  telemetry: Telemetry;
  /** Recent query embeddings. @default 1000 */
  queryCacheSize?: number;
}): SearchService {
  const queryVectors = new LRUCache<string, Float32Array>({ max: deps.queryCacheSize ?? 1000 });
  const keyword = deps.keyword ?? kvKeywordPostings(deps.kv);

  async function embedQuery(text: string): Promise<Float32Array> {
    const cached = queryVectors.get(text);
    if (cached) return cached;
    const [vector] = await deps.embedder.embed([text]);
    queryVectors.set(text, vector!);
    return vector!;
  }

  async function vectorSearch(
    request: SearchRequest,
    k: number,
    now: number,
    queryVector: Promise<Float32Array> | undefined,
  ): Promise<Array<{ id: string; score: number; state: MemoryState }>> {
    const modality = request.modality ?? 'text';
    const collection = deps.collections.nameFor(modality);
    if (!collection) throw new ValidationError('unknown_modality', `no vector index for modality ${modality}`, { field: 'modality' });
    const vector = request.vector ? Float32Array.from(request.vector) : await (queryVector ?? embedQuery(request.query!));
    const model = request.vector ? deps.collections.modelFor(modality)! : embeddingModelKey(deps.embedder.model);
    const hits = await deps.vectors.search(collection, { vector, k, model, filter: request.filter });
    const states = await deps.query.states(hits.map((h) => h.id));
    return hits
      .map((h) => ({ id: h.id, score: h.score, state: states.get(h.id)! }))
      .filter((h) => isVisible(h.state, now) && matchesFilter(vectorFields(h.state), request.filter));
  }

  async function keywordSearch(request: SearchRequest, k: number, now: number): Promise<Array<{ id: string; score: number; state: MemoryState }>> {
    const found = new Map<string, MemoryState>();
    const hits = await searchKeyword(keyword, {
      tenant: request.filter.tenant,
      text: request.query!,
      k,
      accept: async (id) => {
        const state = (await deps.query.states([id])).get(id);
        if (!isVisible(state, now) || !matchesFilter(vectorFields(state), request.filter)) return false;
        found.set(id, state);
        return true;
      },
    });
    return hits.map((h) => ({ id: h.entityId, score: h.score, state: found.get(h.entityId)! }));
  }

  return {
    async search(request) {
      const started = process.hrtime.bigint();
      // The query's embedding does not depend on what the search waits for: it is made meanwhile
      // (with the sentence model, a few ms a search waiting on a token no longer adds).
      const queryVector = request.mode !== 'keyword' && request.vector === undefined && request.query !== undefined ? embedQuery(request.query) : undefined;
      queryVector?.catch(() => undefined); // awaited (and its failure handled) by the vector search
      await deps.query.waitFor(request.consistentWith);
      if (request.consistentWith) {
        const positions = decodeToken(request.consistentWith);
        await Promise.all([
          request.mode !== 'keyword' ? deps.vectorWatermarks.waitFor(positions, deps.consistencyTimeoutMs) : undefined,
          request.mode !== 'vector' ? deps.keywordWatermarks?.waitFor(positions, deps.consistencyTimeoutMs) : undefined,
        ]);
      }
      const now = Date.now();
      const { k, mode } = request;
      let degraded = false;
      let results: Array<{ id: string; score: number; state: MemoryState }>;

      const vectorOrDegrade = async (kk: number) => {
        try {
          return await vectorSearch(request, kk, now, queryVector);
        } catch (error) {
          if (!(isEngramError(error) && error.retriable) || request.query === undefined) throw error;
          deps.telemetry.logger.warn({ err: error }, 'vector search unavailable; answering from keywords');
          degraded = true;
          return undefined;
        }
      };

      if (mode === 'keyword') {
        results = await keywordSearch(request, k, now);
      } else if (mode === 'vector') {
        results = (await vectorOrDegrade(k)) ?? (await keywordSearch(request, k, now));
      } else {
        const [v, kw] = await Promise.all([vectorOrDegrade(k * 2), keywordSearch(request, k * 2, now)]);
        const byId = new Map([...(v ?? []), ...kw].map((r) => [r.id, r.state]));
        results = reciprocalRankFusion([v ?? [], kw], { limit: k }).map((f) => ({ id: f.id, score: f.score, state: byId.get(f.id)! }));
      }
      deps.telemetry.metrics.searchLatency.observe({ mode }, Number(process.hrtime.bigint() - started) / 1e9);
      return { mode, degraded, results: results.slice(0, k).map((r) => withFields(toView(r.state), { score: r.score })) };
    },
  };
}

