import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { QuantizedVectors, exactSearch } from './hnsw-exact.js';
import { planSearch, scanLimit, searchEf } from './hnsw-search-plan.js';
import { compareScored, dot, normalizeVector } from './hnsw-vectors.js';

const defaults = { efSearch: 64, exactSearchBelow: Number.MAX_SAFE_INTEGER };

function randomUnitVectors(count: number, dims: number, seed: number): Float32Array[] {
  let state = seed;
  const next = (): number => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5;
  return Array.from({ length: count }, () => normalizeVector(Float32Array.from({ length: dims }, next), dims, 'test'));
}

describe('search plan of the embedded HNSW index', () => {
  it('widens ef as the filter passes less of the graph, up to a ceiling', () => {
    assert.equal(searchEf(1, 10, defaults), 160, 'no filter: 16·k');
    assert.equal(searchEf(0.5, 10, defaults), 160);
    assert.equal(searchEf(0.2, 10, defaults), 200);
    assert.equal(searchEf(0.1, 10, defaults), 400);
    assert.equal(searchEf(0.001, 10, defaults), 640, 'capped at 64·k');
    assert.equal(searchEf(0.1, 10, { ...defaults, efSearch: 1000 }), 1000, 'efSearch stays the floor');
    assert.equal(searchEf(0.1, 1, defaults), 64, 'k = 1: efSearch');
  });

  it('searches exactly when the matches are few for the graph, through the graph otherwise', () => {
    // One tenant in ten of 100k points: 10k exact scores cost less than a walk at ef 400.
    assert.deepEqual(planSearch(10_000, 100_000, 10, defaults), { exact: true, ef: 400 });
    assert.deepEqual(planSearch(50_000, 100_000, 10, defaults), { exact: false, ef: 160 });
    assert.equal(planSearch(1_000, 1_000, 10, defaults).exact, true, 'a small collection');
    assert.equal(planSearch(100_000, 100_000, 10, defaults).exact, false, 'a large one without a filter');
    assert.equal(planSearch(0, 100_000, 10, defaults).exact, true, 'nothing matches');
    assert.equal(planSearch(10, 100_000, 10, { ...defaults, exactSearchBelow: 0 }).exact, false, '0 forces the graph');
    assert.equal(planSearch(600, 100_000, 10, { ...defaults, exactSearchBelow: 500 }).exact, false, 'the limit caps exact search');
  });

  it('never chooses exact search above the scan limit, so a count can stop there', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 2000 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (points, k, efSearch, exactSearchBelow, share) => {
          const tuning = { efSearch, exactSearchBelow };
          const matches = Math.floor(share * points);
          if (planSearch(matches, points, k, tuning).exact) assert.ok(matches <= scanLimit(points, k, tuning));
        },
      ),
    );
  });
});

describe('exact search over int8 copies', () => {
  it('returns the exact top-k with exact scores', () => {
    const dims = 48;
    const vectors = randomUnitVectors(3000, dims, 11);
    // Starts tiny: set() must grow it.
    const quantized = new QuantizedVectors(dims, 1);
    vectors.forEach((v, label) => quantized.set(label, v));
    let worstError = 0;
    for (const query of randomUnitVectors(20, dims, 5)) {
      vectors.forEach((v, label) => (worstError = Math.max(worstError, Math.abs(quantized.score(query, label) - dot(query, v)))));
      const labels = vectors.map((_, label) => label).filter((label) => label % 3 !== 0);
      const expected = labels.map((label) => ({ id: `v${label}`, score: dot(query, vectors[label] as Float32Array) })).sort(compareScored).slice(0, 10);
      const found = exactSearch(query, 10, labels, quantized, (label) => ({ id: `v${label}`, score: dot(query, vectors[label] as Float32Array) }));
      assert.deepEqual(found, expected);
    }
    // Per component at most half a step (max |x| / 254); summed over 48 dims that stays below 5e-3.
    assert.ok(worstError < 5e-3, `int8 error ${worstError}`);
  });

  it('skips candidates whose vector is gone and returns fewer when fewer match', () => {
    const vectors = randomUnitVectors(5, 8, 3);
    const quantized = new QuantizedVectors(8, 8);
    vectors.forEach((v, label) => quantized.set(label, v));
    const query = vectors[0] as Float32Array;
    const found = exactSearch(query, 10, [0, 1, 2, 3, 4], quantized, (label) => (label === 0 ? undefined : { id: `v${label}`, score: dot(query, vectors[label] as Float32Array) }));
    assert.deepEqual(found.map((h) => h.id).sort(), ['v1', 'v2', 'v3', 'v4']);
  });
});
