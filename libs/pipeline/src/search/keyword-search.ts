/**
 * BM25 ranking over any store of postings (./keyword-postings.ts): the KV-backed index
 * (./keyword-index.ts, any KV backend) or the in-process one (./memory-keyword-index.ts, the
 * embedded default). Both answer the same queries with the same scores.
 */
import { ValidationError, withFields } from '@engram/core';
import { tokenize } from './tokenizer.js';
import { assertTenant } from './keyword-keys.js';
import type { KeywordPostings } from './keyword-postings.js';

/** BM25 term-frequency saturation. */
export const BM25_K1 = 1.2;
/** BM25 length normalisation. */
export const BM25_B = 0.75;

/** Candidates looked up at once when a common term is scored against the rarer terms' candidates. */
const LOOKUP_CHUNK = 1000;

export interface KeywordQuery {
  /** Always applied: only this tenant's postings are read. */
  tenant: string;
  text: string;
  /** Results wanted. */
  k: number;
  /**
   * The caller's filter (namespace prefix, agentId, tags, expiry…), called best-first until `k`
   * candidates are accepted; at most `k - accepted` calls are in flight at once.
   * @default every candidate is accepted
   */
  accept?: (entityId: string) => Promise<boolean> | boolean;
  /**
   * Postings scanned per term. A term in more documents than this is not scanned: it only adds its
   * score to candidates found through rarer query terms (by point look-ups), or, when every query
   * term is that common, seeds candidates from its first `maxPostingsPerTerm` postings in entity-id
   * order. Such a term has a low idf, so this bounds the work of a query like "memory" over a huge
   * tenant at the cost of recall for documents matching only very common terms.
   * @default 20000
   */
  maxPostingsPerTerm?: number;
}

export interface KeywordHit {
  entityId: string;
  score: number;
}

interface WeightedTerm {
  term: string;
  df: number;
  idf: number;
}

/**
 * BM25 (k1 = 1.2, b = 0.75, idf = ln(1 + (N − df + 0.5) / (df + 0.5))) over the tenant's documents.
 * Repeated query terms count once. Results are ordered by score, then by entity id.
 */
export async function searchKeyword(postings: KeywordPostings, query: KeywordQuery): Promise<KeywordHit[]> {
  const { tenant, k, accept } = query;
  const maxPostings = query.maxPostingsPerTerm ?? 20_000;
  assertTenant(tenant);
  if (!Number.isSafeInteger(k) || k < 0) throw new ValidationError('invalid_k', `k must be a non-negative integer, got ${k}`);
  if (!Number.isSafeInteger(maxPostings) || maxPostings < 1) {
    throw new ValidationError('invalid_max_postings', `maxPostingsPerTerm must be a positive integer, got ${maxPostings}`);
  }
  const terms = [...new Set(tokenize(query.text))];
  if (terms.length === 0 || k === 0) return [];

  const [corpus, dfs] = await Promise.all([
    postings.corpus(tenant),
    Promise.all(terms.map((term) => postings.df(tenant, term))),
  ]);
  if (corpus.docs === 0) return [];
  const avgLen = corpus.totalLen / corpus.docs;
  const weighted: WeightedTerm[] = terms
    .map((term, i) => ({ term, df: dfs[i] ?? 0 }))
    .filter((t) => t.df > 0)
    .map((t) => withFields(t, { idf: Math.log(1 + (corpus.docs - t.df + 0.5) / (t.df + 0.5)) }))
    // Rarest first, so common terms can be scored against the candidates the rare ones found.
    .sort((a, b) => a.df - b.df || compare(a.term, b.term));

  const scores = new Map<string, number>();
  for (const t of weighted) {
    const add = (entityId: string, tf: number, len: number): void => {
      const norm = tf + BM25_K1 * (1 - BM25_B + (BM25_B * len) / avgLen);
      scores.set(entityId, (scores.get(entityId) ?? 0) + (t.idf * tf * (BM25_K1 + 1)) / norm);
    };
    if (t.df <= maxPostings || scores.size === 0) {
      await postings.scan(tenant, t.term, maxPostings, add);
    } else {
      const ids = [...scores.keys()];
      for (let i = 0; i < ids.length; i += LOOKUP_CHUNK) await postings.lookup(tenant, t.term, ids.slice(i, i + LOOKUP_CHUNK), add);
    }
  }

  return takeAccepted(new BestFirst(scores), k, accept);
}

/** Takes candidates best-first, asking `accept` about as many of them as results are still missing. */
async function takeAccepted(ranked: BestFirst, k: number, accept: KeywordQuery['accept']): Promise<KeywordHit[]> {
  const hits: KeywordHit[] = [];
  while (hits.length < k && ranked.size > 0) {
    const chunk = ranked.take(k - hits.length);
    const verdicts = accept === undefined ? undefined : await Promise.all(chunk.map((hit) => accept(hit.entityId)));
    chunk.forEach((hit, i) => {
      if (verdicts === undefined || verdicts[i] === true) hits.push(hit);
    });
  }
  return hits;
}

/**
 * The candidates in rank order (score descending, then entity id), as a binary heap: a query over a
 * common term scores tens of thousands of documents but returns k, so it pays O(n) to build the heap
 * and O(log n) per candidate taken instead of sorting them all.
 */
class BestFirst {
  private readonly ids: string[];
  private readonly scores: number[];

  constructor(candidates: Map<string, number>) {
    this.ids = [...candidates.keys()];
    this.scores = [...candidates.values()];
    for (let i = (this.ids.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  get size(): number {
    return this.ids.length;
  }

  /** Removes and returns the best `n` (fewer if fewer are left), best first. */
  take(n: number): KeywordHit[] {
    const out: KeywordHit[] = [];
    while (out.length < n && this.ids.length > 0) {
      out.push({ entityId: this.ids[0]!, score: this.scores[0]! });
      const lastId = this.ids.pop()!;
      const lastScore = this.scores.pop()!;
      if (this.ids.length > 0) {
        this.ids[0] = lastId;
        this.scores[0] = lastScore;
        this.siftDown(0);
      }
    }
    return out;
  }

  /** Whether the candidate at i ranks before the one at j. */
  private before(i: number, j: number): boolean {
    const a = this.scores[i]!;
    const b = this.scores[j]!;
    return a > b || (a === b && compare(this.ids[i]!, this.ids[j]!) < 0);
  }

  private siftDown(i: number): void {
    const n = this.ids.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) return;
      const right = left + 1;
      const best = right < n && this.before(right, left) ? right : left;
      if (!this.before(best, i)) return;
      [this.ids[i], this.ids[best]] = [this.ids[best]!, this.ids[i]!];
      [this.scores[i], this.scores[best]] = [this.scores[best]!, this.scores[i]!];
      i = best;
    }
  }
}

/** Code-unit order: deterministic and locale-independent, unlike localeCompare. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
