import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createHybridClock, HLC_COUNTER_SIZE, hlcCounter, hlcFromWallMs, hlcWallMs } from './hlc.js';
import { EngramError } from './errors.js';

function manualClock(start: number) {
  let now = start;
  return { wallClock: () => now, set: (ms: number) => (now = ms) };
}

describe('hlc packing', () => {
  it('packs wall ms and counter into one integer', () => {
    const h = hlcFromWallMs(1_700_000_000_000) + 5;
    assert.equal(hlcWallMs(h), 1_700_000_000_000);
    assert.equal(hlcCounter(h), 5);
    assert.equal(hlcCounter(hlcFromWallMs(123)), 0);
    assert.ok(Number.isSafeInteger(hlcFromWallMs(Date.UTC(2039, 0, 1))));
  });
});

describe('createHybridClock', () => {
  it('uses the wall clock with counter 0 when time moves forward', () => {
    const clock = manualClock(1000);
    const hlc = createHybridClock({ wallClock: clock.wallClock });
    assert.equal(hlc.now(), hlcFromWallMs(1000));
    clock.set(1005);
    assert.equal(hlc.now(), hlcFromWallMs(1005));
  });

  it('counts within one millisecond and when the wall clock goes backwards', () => {
    const clock = manualClock(1000);
    const hlc = createHybridClock({ wallClock: clock.wallClock });
    const a = hlc.now();
    const b = hlc.now();
    clock.set(900);
    const c = hlc.now();
    assert.deepEqual([hlcWallMs(b), hlcCounter(b)], [1000, 1]);
    assert.deepEqual([hlcWallMs(c), hlcCounter(c)], [1000, 2]);
    assert.ok(a < b && b < c);
  });

  it('borrows the next millisecond when the counter overflows', () => {
    const hlc = createHybridClock({ wallClock: () => 1000 });
    let last = 0;
    for (let i = 0; i < HLC_COUNTER_SIZE + 1; i++) last = hlc.now();
    assert.equal(hlcWallMs(last), 1001);
    assert.equal(hlcCounter(last), 0);
  });

  it('observes remote timestamps ahead of the local clock', () => {
    const hlc = createHybridClock({ wallClock: () => 1000 });
    const remote = hlcFromWallMs(2000) + 7;
    const merged = hlc.observe(remote);
    assert.equal(merged, remote + 1);
    assert.equal(hlc.now(), remote + 2);
    // A remote timestamp in the past only advances the counter.
    assert.equal(hlc.observe(hlcFromWallMs(10)), remote + 3);
  });

  it('rejects a remote timestamp that is not a non-negative safe integer', () => {
    const hlc = createHybridClock({ wallClock: () => 1000 });
    for (const bad of [-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 2]) {
      assert.throws(() => hlc.observe(bad), (error) => error instanceof EngramError && error.code === 'invalid_hlc');
    }
  });

  it('is strictly monotonic whatever the wall clock and remote values do (property)', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('now' as const), wall: fc.integer({ min: 0, max: 5000 }) }),
      fc.record({ kind: fc.constant('observe' as const), wall: fc.integer({ min: 0, max: 5000 }), remote: fc.integer({ min: 0, max: 6000 * HLC_COUNTER_SIZE }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 200 }), (steps) => {
        let wall = 0;
        const hlc = createHybridClock({ wallClock: () => wall });
        let previous = -1;
        for (const s of steps) {
          wall = s.wall;
          const value = s.kind === 'now' ? hlc.now() : hlc.observe(s.remote);
          assert.ok(value > previous, `${value} after ${previous}`);
          if (s.kind === 'observe') assert.ok(value > s.remote);
          // Never behind the wall clock.
          assert.ok(hlcWallMs(value) >= s.wall);
          previous = value;
        }
      }),
    );
  });
});
