import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { planRuns } from './minilm-batches.js';

describe('planRuns', () => {
  it('runs every text alone, in order, when maxBatch is 1', () => {
    assert.deepEqual(planRuns(['b', 'aaa', 'cc'], 1, 2), [[0], [1], [2]]);
  });

  it('groups texts of similar length and spreads a small call over the workers', () => {
    const texts = ['long long long', 'x', 'medium', 'yy', 'longer still, by far', 'z'];
    // Shortest first (ties keep their order), one run per worker.
    assert.deepEqual(planRuns(texts, 32, 2), [
      [1, 5, 3],
      [2, 0, 4],
    ]);
    assert.deepEqual(planRuns(texts, 2, 2), [[1, 5], [3, 2], [0, 4]]);
    // No more runs than texts; sizes differ by one at most.
    assert.deepEqual(planRuns(['a', 'b'], 32, 4), [[0], [1]]);
    assert.deepEqual(planRuns(['a', 'b', 'c', 'd', 'e'], 32, 3), [[0], [1, 2], [3, 4]]);
  });

  it('places every text exactly once, in runs of at most maxBatch', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { maxLength: 60 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 4 }), (texts, maxBatch, workers) => {
        const runs = planRuns(texts, maxBatch, workers);
        assert.deepEqual(runs.flat().sort((a, b) => a - b), texts.map((_, i) => i));
        assert.ok(runs.every((run) => run.length >= 1 && run.length <= maxBatch));
        if (maxBatch > 1) {
          assert.ok(runs.length >= Math.min(texts.length, workers), 'every worker gets a run');
          assert.ok(Math.max(...runs.map((r) => r.length)) - Math.min(...runs.map((r) => r.length)) <= 1, 'balanced runs');
        }
      }),
    );
  });
});
