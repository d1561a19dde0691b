/**
 * Reciprocal-rank fusion (Cormack, Clarke & Büttcher, 2009) for hybrid search: each list votes
 * 1 / (k + rank) for every id it holds, so vector and BM25 results combine without comparing their
 * incommensurable scores.
 */
import { ValidationError } from '@engram/core';

export interface RankFusionOptions {
  /** Damping constant: larger values flatten the advantage of the top ranks. @default 60 */
  k?: number;
  /** Keep only the best `limit` results. @default every id of every list */
  limit?: number;
}

export interface FusedResult {
  id: string;
  score: number;
  /** 1-based rank of the id in each input list, in list order; 0 where the list lacks it. */
  ranks: number[];
}

/**
 * Fuses ranked lists (best first). An id repeated within one list keeps its best rank. Results are
 * ordered by score, ties by id (code-unit order), so equal inputs always give equal outputs.
 */
export function reciprocalRankFusion(
  lists: Array<Array<{ id: string }>>,
  options: RankFusionOptions = {},
): FusedResult[] {
  const k = options.k ?? 60;
  if (!Number.isFinite(k) || k < 0) throw new ValidationError('invalid_rrf_k', `k must be a finite number >= 0, got ${k}`);
  const limit = options.limit;
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) {
    throw new ValidationError('invalid_rrf_limit', `limit must be a non-negative integer, got ${limit}`);
  }

  const ranksById = new Map<string, number[]>();
  lists.forEach((list, listIndex) => {
    list.forEach(({ id }, position) => {
      let ranks = ranksById.get(id);
      if (ranks === undefined) {
        ranks = new Array<number>(lists.length).fill(0);
        ranksById.set(id, ranks);
      }
      if (ranks[listIndex] === 0) ranks[listIndex] = position + 1;
    });
  });

  const fused = [...ranksById].map(([id, ranks]) => {
    // Summing the contributions in a fixed (ascending) order makes ids with the same multiset of
    // ranks score bit-for-bit equal, so they tie and fall back to the id order.
    const score = ranks
      .filter((rank) => rank > 0)
      .map((rank) => 1 / (k + rank))
      .sort((a, b) => a - b)
      .reduce((sum, part) => sum + part, 0);
    return { id, score, ranks };
  });
  fused.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return limit === undefined ? fused : fused.slice(0, limit);
}
