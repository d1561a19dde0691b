import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseBenchArgs, intOption } from './args.js';
import { pairedRatio } from './report.js';
import { medianOf } from './runner.js';
import { median, percentile, recall, summarizeLatencies } from './stats.js';
import { clusteredVectors, createRandom, exactNeighbours } from './vectors.js';

describe('bench harness statistics', () => {
  it('median takes the middle value, or the mean of the two middle ones', () => {
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });

  it('percentile is nearest-rank: p99 of 1..1000 is 990, p50 is 500', () => {
    const values = Array.from({ length: 1000 }, (_, i) => 1000 - i);
    assert.equal(percentile(values, 99), 990);
    assert.equal(percentile(values, 50), 500);
    assert.equal(percentile([7], 99), 7);
    assert.throws(() => percentile(values, 0), RangeError);
  });

  it('summarizes latencies with throughput over the loop time', () => {
    const s = summarizeLatencies([1, 2, 3, 4], 8);
    assert.deepEqual(s, { p50Ms: 2, p99Ms: 4, perSecond: 500 });
  });

  it('recall counts the true neighbours found', () => {
    assert.equal(recall([1, 2, 3, 9], Int32Array.from([1, 2, 3, 4])), 0.75);
    assert.equal(recall([], Int32Array.from([1])), 0);
  });

  it('medianOf takes the median of each metric across runs', () => {
    assert.deepEqual(medianOf([{ a: 1, b: 10 }, { a: 3, b: 30 }, { a: 2, b: 20 }]), { a: 2, b: 20 });
  });

  it('pairedRatio is the median of per-run ratios, not the ratio of medians', () => {
    const runs = [{ a: 2, b: 1 }, { a: 4, b: 4 }, { a: 9, b: 3 }];
    assert.equal(pairedRatio(runs, 'a', 'b'), 2);
    assert.equal(medianOf(runs).a! / medianOf(runs).b!, 4 / 3);
  });
});

describe('bench harness arguments', () => {
  it('--quick means one run unless --runs says otherwise; unknown flags are tolerated', () => {
    assert.equal(parseBenchArgs(['--quick']).runs, 1);
    assert.equal(parseBenchArgs(['--quick', '--runs', '3']).runs, 3);
    assert.equal(parseBenchArgs([], 5).runs, 5);
    assert.equal(intOption(parseBenchArgs(['--count', '20_000', '--other']), 'count', 1), 20000);
    assert.throws(() => parseBenchArgs(['--runs', '0']));
  });
});

describe('bench vectors', () => {
  it('the PRNG is deterministic per seed', () => {
    const a = createRandom(1);
    const b = createRandom(1);
    assert.deepEqual([a(), a(), a()], [b(), b(), b()]);
    assert.notEqual(createRandom(2)(), createRandom(1)());
  });

  it('clustered vectors are unit length and reproducible', () => {
    const data = clusteredVectors({ count: 50, dims: 8, clusters: 5, seed: 3 });
    assert.deepEqual(data, clusteredVectors({ count: 50, dims: 8, clusters: 5, seed: 3 }));
    for (let i = 0; i < 50; i++) {
      let sum = 0;
      for (let j = 0; j < 8; j++) sum += (data[i * 8 + j] as number) ** 2;
      assert.ok(Math.abs(sum - 1) < 1e-5);
    }
  });

  it('exact neighbours match a naive sort, overall and within the query group', () => {
    const dims = 8;
    const data = clusteredVectors({ count: 203, dims, clusters: 4, seed: 9 });
    const base = data.subarray(0, 200 * dims);
    const queries = data.subarray(200 * dims);
    const { all, inGroup } = exactNeighbours(base, queries, dims, 5, 3);
    for (let q = 0; q < 3; q++) {
      const score = (i: number): number => {
        let s = 0;
        for (let j = 0; j < dims; j++) s += (queries[q * dims + j] as number) * (base[i * dims + j] as number);
        return s;
      };
      const order = Array.from({ length: 200 }, (_, i) => i).sort((a, b) => score(b) - score(a));
      assert.deepEqual(Array.from(all[q] as Int32Array), order.slice(0, 5));
      assert.deepEqual(Array.from(inGroup[q] as Int32Array), order.filter((i) => i % 3 === q % 3).slice(0, 5));
    }
  });
});
