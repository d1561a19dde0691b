import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { counterApply, counterValue, orSetAdd, orSetElements, orSetRemove } from './crdt.js';
import { EngramError } from './errors.js';
import type { OrSetState, PnCounterState } from './state.js';

/** Applies items in the order given by sorting on random keys: a random permutation. */
function permute<T>(items: T[], keys: number[]): T[] {
  return items.map((item, i) => ({ item, k: keys[i] ?? 0, i })).sort((a, b) => a.k - b.k || a.i - b.i).map((x) => x.item);
}

describe('PN-counter', () => {
  it('sums per actor, positives and negatives apart', () => {
    let s: PnCounterState | undefined;
    s = counterApply(s, 'a', 5);
    s = counterApply(s, 'b', -2);
    s = counterApply(s, 'a', -1);
    s = counterApply(s, 'a', 3);
    assert.deepEqual(s, { p: { a: 8 }, n: { a: 1, b: 2 } });
    assert.equal(counterValue(s), 5);
    assert.equal(counterValue(undefined), 0);
  });

  it('stores actors named like Object.prototype members as data', () => {
    const s = counterApply(counterApply(undefined, '__proto__', 2), 'constructor', 3);
    assert.equal(counterValue(s), 5);
    assert.deepEqual(Object.keys(s.p), ['__proto__', 'constructor']);
  });

  it('refuses to overflow the safe integer range', () => {
    const s = counterApply(undefined, 'a', Number.MAX_SAFE_INTEGER);
    assert.throws(() => counterApply(s, 'b', 1), (e) => e instanceof EngramError && e.code === 'counter_overflow');
  });

  it('never mutates the input state', () => {
    const s = counterApply(undefined, 'a', 1);
    const copy = structuredClone(s);
    counterApply(s, 'a', 4);
    assert.deepEqual(s, copy);
  });

  it('gives deep-equal state for any order of the same increments (property)', () => {
    const op = fc.record({ actor: fc.constantFrom('a', 'b', 'c'), delta: fc.integer({ min: -1000, max: 1000 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }).chain((ops) => fc.tuple(fc.constant(ops), fc.array(fc.double({ noNaN: true }), { minLength: ops.length, maxLength: ops.length }))), ([ops, keys]) => {
        const fold = (list: typeof ops) => list.reduce<PnCounterState | undefined>((s, o) => counterApply(s, o.actor, o.delta), undefined);
        const expected = fold(ops);
        assert.deepEqual(fold(permute(ops, keys)), expected);
        assert.equal(counterValue(expected), ops.reduce((t, o) => t + o.delta, 0));
      }),
    );
  });
});

describe('OR-set', () => {
  it('adds and removes elements', () => {
    let s = orSetAdd(undefined, ['b', 'a'], 10, 'e1');
    assert.deepEqual(orSetElements(s), ['a', 'b']);
    s = orSetRemove(s, ['a'], 20);
    assert.deepEqual(orSetElements(s), ['b']);
    assert.deepEqual(s, { adds: { b: ['10:e1'] }, removedAt: { a: 20 } });
    assert.deepEqual(orSetElements(undefined), []);
  });

  it('add wins over a concurrent or earlier remove, loses to a later one', () => {
    // The remove at 20 arrives after an add stamped 30 (concurrent, later HLC): the add survives.
    const s = orSetRemove(orSetAdd(undefined, ['x'], 30, 'e2'), ['x'], 20);
    assert.deepEqual(orSetElements(s), ['x']);
    // An add stamped 15 arriving after the remove at 20 is dominated and dropped.
    assert.deepEqual(orSetAdd(s, ['x'], 15, 'e3').adds.x, ['30:e2']);
    assert.deepEqual(orSetElements(orSetAdd(orSetRemove(undefined, ['y'], 20), ['y'], 15, 'e3')), []);
    // Equal HLC: the remove wins, whichever arrives first.
    assert.deepEqual(orSetElements(orSetRemove(orSetAdd(undefined, ['z'], 20, 'e4'), ['z'], 20)), []);
    assert.deepEqual(orSetElements(orSetAdd(orSetRemove(undefined, ['z'], 20), ['z'], 20, 'e4')), []);
  });

  it('keeps one tag per event and re-applying an add is idempotent', () => {
    const once = orSetAdd(undefined, ['a', 'a'], 10, 'e1');
    assert.deepEqual(orSetAdd(once, ['a'], 10, 'e1'), once);
    assert.deepEqual(once.adds.a, ['10:e1']);
  });

  it('orders tags by HLC, then event id', () => {
    let s = orSetAdd(undefined, ['a'], 100, 'b');
    s = orSetAdd(s, ['a'], 9, 'z');
    s = orSetAdd(s, ['a'], 100, 'a');
    assert.deepEqual(s.adds.a, ['9:z', '100:a', '100:b']);
  });

  it('handles an element named __proto__', () => {
    const s = orSetAdd(undefined, ['__proto__', 'constructor'], 1, 'e');
    assert.deepEqual(orSetElements(s), ['__proto__', 'constructor']);
    assert.deepEqual(orSetElements(orSetRemove(s, ['__proto__'], 2)), ['constructor']);
    assert.deepEqual(orSetElements(orSetRemove(undefined, ['toString'], 2)), []);
  });

  it('gives deep-equal state for any order of the same adds and removes (property)', () => {
    const op = fc.record({
      remove: fc.boolean(),
      elements: fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { minLength: 1, maxLength: 3 }),
      hlc: fc.integer({ min: 1, max: 20 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }).chain((ops) => fc.tuple(fc.constant(ops), fc.array(fc.double({ noNaN: true }), { minLength: ops.length, maxLength: ops.length }))), ([ops, keys]) => {
        const withIds = ops.map((o, i) => ({ ...o, eventId: `e${i}` }));
        const fold = (list: typeof withIds) =>
          list.reduce<OrSetState | undefined>((s, o) => (o.remove ? orSetRemove(s, o.elements, o.hlc) : orSetAdd(s, o.elements, o.hlc, o.eventId)), undefined);
        const expected = fold(withIds);
        assert.deepEqual(fold(permute(withIds, keys)), expected);
        // Serialised state is identical too (canonical key order).
        assert.equal(JSON.stringify(fold(permute(withIds, keys))), JSON.stringify(expected));
      }),
    );
  });
});
