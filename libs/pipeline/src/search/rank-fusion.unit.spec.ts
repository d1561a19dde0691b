import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EngramError } from '@engram/core';
import { reciprocalRankFusion } from './rank-fusion.js';

const list = (...ids: string[]) => ids.map((id) => ({ id }));

describe('reciprocalRankFusion', () => {
  it('sums 1 / (k + rank) over the lists and reports each rank', () => {
    const fused = reciprocalRankFusion([list('a', 'b', 'c'), list('b', 'c', 'd')]);
    assert.deepEqual(fused.map((r) => [r.id, r.ranks]), [['b', [2, 1]], ['c', [3, 2]], ['a', [1, 0]], ['d', [0, 3]]]);
    assert.equal(fused[0]?.score, 1 / 61 + 1 / 62);
    assert.equal(fused[3]?.score, 1 / 63);
  });

  it('honours k and limit', () => {
    const fused = reciprocalRankFusion([list('a', 'b'), list('b')], { k: 0, limit: 1 });
    assert.deepEqual(fused, [{ id: 'b', score: 1 / 2 + 1, ranks: [2, 1] }]);
    assert.deepEqual(reciprocalRankFusion([list('a')], { limit: 0 }), []);
    assert.deepEqual(reciprocalRankFusion([]), []);
  });

  it('breaks ties by id, whatever the order of the lists', () => {
    const lists = [list('c', 'a', 'b'), list('a', 'b', 'c'), list('b', 'c', 'a')];
    const fused = reciprocalRankFusion(lists);
    assert.deepEqual(fused.map((r) => r.id), ['a', 'b', 'c']);
    assert.equal(fused[0]?.score, fused[2]?.score);
    assert.deepEqual(reciprocalRankFusion([...lists].reverse()).map((r) => r.id), ['a', 'b', 'c']);
  });

  it('keeps the best rank of an id repeated within a list', () => {
    assert.deepEqual(reciprocalRankFusion([list('x', 'y', 'x')]).map((r) => [r.id, r.ranks]), [['x', [1]], ['y', [2]]]);
  });

  it('rejects a negative k or limit', () => {
    assert.throws(() => reciprocalRankFusion([], { k: -1 }), (e: unknown) => e instanceof EngramError && e.code === 'invalid_rrf_k');
    assert.throws(() => reciprocalRankFusion([], { limit: 1.5 }), (e: unknown) => e instanceof EngramError && e.code === 'invalid_rrf_limit');
  });
});
