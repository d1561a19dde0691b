import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyEvent, foldEvents, isAlreadyApplied } from './fold.js';
import { EngramError } from './errors.js';
import type { JsonValue, LogPosition, MemoryEvent } from './events.js';
import type { MemoryState } from './state.js';

type Payload =
  | { type: 'MemoryWritten'; value: JsonValue }
  | { type: 'MemoryPatched'; patch: JsonValue }
  | { type: 'MemoryDeleted' }
  | { type: 'CounterIncremented'; delta: number }
  | { type: 'SetElementsAdded'; elements: string[] }
  | { type: 'SetElementsRemoved'; elements: string[] };

let seq = 0;
function ev(payload: Payload, extra: Partial<Omit<MemoryEvent, 'type'>> = {}): MemoryEvent {
  seq++;
  return {
    eventId: `e${seq}`,
    tenant: 't',
    namespace: 'ns',
    key: 'k',
    actor: 'agent-a',
    hlc: 1000 + seq,
    metadata: { tags: [], attributes: {} },
    ...extra,
    ...payload,
  } as MemoryEvent;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

const at = (offset: number): LogPosition => ({ partition: 3, offset });

function fold(events: MemoryEvent[]) {
  return foldEvents(events.map((event, i) => ({ event, position: at(i) })));
}

describe('applyEvent: documents', () => {
  it('writes, then merge-patches, counting versions per actor', () => {
    const w = ev({ type: 'MemoryWritten', value: { a: 1, b: { c: 2 } } }, { hlc: 5000, text: 'hello', expiresAt: 99 });
    const p = ev({ type: 'MemoryPatched', patch: { b: { c: null, d: 3 } } }, { actor: 'agent-b', hlc: 4000 });
    const { state, outcomes } = fold([w, p]);
    assert.deepEqual(outcomes, [{ status: 'applied', version: 1 }, { status: 'applied', version: 2 }]);
    assert.ok(state);
    assert.equal(state.kind, 'document');
    assert.deepEqual(state.value, { a: 1, b: { d: 3 } });
    assert.equal(state.version, 2);
    assert.deepEqual(state.versionVector, { 'agent-a': 1, 'agent-b': 1 });
    assert.equal(state.hlc, 5000, 'hlc is the max, not the last');
    assert.equal(state.createdHlc, 5000);
    assert.deepEqual(state.lastApplied, at(1));
    assert.equal(state.text, 'hello', 'text is kept when an event brings none');
    assert.equal(state.expiresAt, 99);
    assert.equal(state.deleted, false);
  });

  it('applies a patch to an absent entity as a patch of null', () => {
    const { state } = fold([ev({ type: 'MemoryPatched', patch: { a: { b: null, c: 1 } } })]);
    assert.deepEqual(state?.value, { a: { c: 1 } });
  });

  it('takes metadata from the event, tags sorted and unique', () => {
    const meta = { agentId: 'x', tags: ['b', 'a', 'b'], attributes: { n: 1 } };
    const { state } = fold([ev({ type: 'MemoryWritten', value: 1 }, { metadata: { tags: ['old'], attributes: {} } }), ev({ type: 'MemoryWritten', value: 2 }, { metadata: meta })]);
    assert.deepEqual(state?.metadata, { agentId: 'x', tags: ['a', 'b'], attributes: { n: 1 } });
  });

  it('records the embedding model, and drops it when new text has none', () => {
    const first = applyEvent(undefined, ev({ type: 'MemoryWritten', value: 1 }, { text: 'a' }), at(0), { embeddingModel: 'hash-v1' }).state;
    assert.equal(first?.embeddingModel, 'hash-v1');
    const noText = applyEvent(first, ev({ type: 'MemoryWritten', value: 2 }), at(1)).state;
    assert.equal(noText?.embeddingModel, 'hash-v1');
    const newText = applyEvent(noText, ev({ type: 'MemoryWritten', value: 3 }, { text: 'b' }), at(2)).state;
    assert.equal(newText?.embeddingModel, undefined);
  });

  it('throws for an event of another entity', () => {
    const { state } = fold([ev({ type: 'MemoryWritten', value: 1 })]);
    assert.throws(() => applyEvent(state, ev({ type: 'MemoryWritten', value: 1 }, { key: 'other' }), at(9)), (e) => e instanceof EngramError && e.code === 'entity_mismatch');
  });
});

describe('applyEvent: expectedVersion, kinds and deletes', () => {
  it('rejects a stale expectedVersion and changes nothing', () => {
    const { state } = fold([ev({ type: 'MemoryWritten', value: 1 })]);
    const result = applyEvent(state, ev({ type: 'MemoryWritten', value: 2 }, { expectedVersion: 5 }), at(7));
    assert.equal(result.state, state);
    assert.equal(result.outcome.status, 'rejected');
    assert.ok(result.outcome.status === 'rejected' && result.outcome.code === 'version_conflict');
    assert.match(result.outcome.status === 'rejected' ? result.outcome.reason : '', /expected version 5.*actual version 1/);
  });

  it('applies a matching expectedVersion, 0 meaning "does not exist yet"', () => {
    const { state, outcomes } = fold([ev({ type: 'MemoryWritten', value: 1 }, { expectedVersion: 0 }), ev({ type: 'MemoryWritten', value: 2 }, { expectedVersion: 1 })]);
    assert.deepEqual(outcomes.map((o) => o.status), ['applied', 'applied']);
    assert.equal(state?.value, 2);
  });

  it('first writer wins among writers expecting the same version', () => {
    const base = ev({ type: 'MemoryWritten', value: 'v1' });
    const { state, outcomes } = fold([base, ev({ type: 'MemoryWritten', value: 'A' }, { expectedVersion: 1 }), ev({ type: 'MemoryWritten', value: 'B' }, { expectedVersion: 1 })]);
    assert.equal(state?.value, 'A');
    assert.deepEqual(outcomes.map((o) => o.status), ['applied', 'applied', 'rejected']);
  });

  it('rejects an event of another kind with kind_mismatch', () => {
    const { state, outcomes } = fold([ev({ type: 'MemoryWritten', value: 1 }), ev({ type: 'CounterIncremented', delta: 1 }), ev({ type: 'SetElementsAdded', elements: ['a'] })]);
    assert.deepEqual(outcomes.slice(1).map((o) => (o.status === 'rejected' ? o.code : o.status)), ['kind_mismatch', 'kind_mismatch']);
    assert.equal(state?.version, 1);
  });

  it('deletes: tombstone keeps the version, clears value/text/expiry, and a new kind may start', () => {
    const { state, outcomes } = fold([
      ev({ type: 'CounterIncremented', delta: 4 }, { text: 'n', expiresAt: 5 }),
      ev({ type: 'MemoryDeleted' }),
    ]);
    assert.deepEqual(outcomes.at(-1), { status: 'applied', version: 2 });
    assert.ok(state);
    assert.equal(state.deleted, true);
    assert.equal(state.value, null);
    assert.equal(state.text, undefined);
    assert.equal(state.expiresAt, undefined);
    assert.equal(state.counter, undefined);
    const stale = applyEvent(state, ev({ type: 'MemoryWritten', value: 1 }, { expectedVersion: 1 }), at(2));
    assert.ok(stale.outcome.status === 'rejected' && stale.outcome.code === 'version_conflict');
    const reborn = applyEvent(state, ev({ type: 'SetElementsAdded', elements: ['x'] }), at(2)).state;
    assert.deepEqual([reborn?.kind, reborn?.value, reborn?.version, reborn?.deleted], ['set', ['x'], 3, false]);
    assert.equal(reborn?.createdHlc, state.createdHlc);
  });

  it('creates a tombstone when deleting an absent entity', () => {
    const { state, outcomes } = fold([ev({ type: 'MemoryDeleted' })]);
    assert.deepEqual(outcomes, [{ status: 'applied', version: 1 }]);
    assert.deepEqual([state?.deleted, state?.value, state?.version], [true, null, 1]);
  });

  it('starts a counter fresh after a delete', () => {
    const { state } = fold([ev({ type: 'CounterIncremented', delta: 4 }), ev({ type: 'MemoryDeleted' }), ev({ type: 'CounterIncremented', delta: -1 })]);
    assert.equal(state?.value, -1);
  });

  it('rejects a counter overflow instead of throwing', () => {
    const { state, outcomes } = fold([ev({ type: 'CounterIncremented', delta: Number.MAX_SAFE_INTEGER }), ev({ type: 'CounterIncremented', delta: 1 })]);
    assert.ok(outcomes[1]?.status === 'rejected' && outcomes[1].code === 'counter_overflow');
    assert.equal(state?.value, Number.MAX_SAFE_INTEGER);
  });

  it('never mutates its inputs (frozen events and state)', () => {
    const events = [ev({ type: 'SetElementsAdded', elements: ['b', 'a'] }), ev({ type: 'SetElementsRemoved', elements: ['a'] })].map(deepFreeze);
    const first = deepFreeze(applyEvent(undefined, events[0]!, deepFreeze(at(0))).state);
    const second = applyEvent(first, events[1]!, at(1)).state;
    assert.deepEqual(second?.value, ['b']);
    assert.deepEqual(first?.value, ['a', 'b']);
  });

  it('knows when a position was already applied', () => {
    const { state } = fold([ev({ type: 'MemoryWritten', value: 1 }), ev({ type: 'MemoryWritten', value: 2 })]);
    assert.equal(isAlreadyApplied(state, at(1)), true);
    assert.equal(isAlreadyApplied(state, at(0)), true);
    assert.equal(isAlreadyApplied(state, at(2)), false);
    assert.equal(isAlreadyApplied(undefined, at(0)), false);
  });
});

const actorArb = fc.constantFrom('a1', 'a2', 'a3');
const hlcArb = fc.integer({ min: 1, max: 40 });
const docEventArb = fc.oneof(
  fc.record({ type: fc.constant('MemoryWritten' as const), value: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonValue> }),
  fc.record({ type: fc.constant('MemoryPatched' as const), patch: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonValue> }),
  fc.record({ type: fc.constant('MemoryDeleted' as const) }),
  fc.record({ type: fc.constant('CounterIncremented' as const), delta: fc.integer({ min: -50, max: 50 }) }),
  fc.record({ type: fc.constant('SetElementsAdded' as const), elements: fc.array(fc.constantFrom('x', 'y', 'z'), { minLength: 1, maxLength: 2 }) }),
);
const counterArb = fc.record({ type: fc.constant('CounterIncremented' as const), delta: fc.integer({ min: -50, max: 50 }) });
const setArb = fc.oneof(
  fc.record({ type: fc.constant('SetElementsAdded' as const), elements: fc.array(fc.constantFrom('x', 'y', 'z'), { minLength: 1, maxLength: 3 }) }),
  fc.record({ type: fc.constant('SetElementsRemoved' as const), elements: fc.array(fc.constantFrom('x', 'y', 'z'), { minLength: 1, maxLength: 3 }) }),
);

function eventsArb(payloadArb: fc.Arbitrary<Payload>, withExpected: boolean): fc.Arbitrary<MemoryEvent[]> {
  const one = fc.record({
    payload: payloadArb,
    actor: actorArb,
    hlc: hlcArb,
    expectedVersion: withExpected ? fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }) : fc.constant(undefined),
  });
  return fc.array(one, { maxLength: 20 }).map((items) =>
    items.map((item, i) => {
      const extra: Partial<MemoryEvent> = { eventId: `ev-${i}`, actor: item.actor, hlc: item.hlc };
      if (item.expectedVersion !== undefined) extra.expectedVersion = item.expectedVersion;
      return ev({ ...item.payload }, extra);
    }),
  );
}

/** The same events in another log order (positions follow the new order). */
const permutedArb = (payloadArb: fc.Arbitrary<Payload>) =>
  eventsArb(payloadArb, false).chain((events) => fc.tuple(fc.constant(events), fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length })));

function summary(state: MemoryState | undefined) {
  return state && { value: state.value, version: state.version, versionVector: state.versionVector, hlc: state.hlc, counter: state.counter, set: state.set };
}

describe('fold properties', () => {
  it('folding the same list twice gives deep-equal results', () => {
    fc.assert(fc.property(eventsArb(docEventArb, true), (events) => assert.deepEqual(fold(events), fold(events))));
  });

  it('counter events commute', () => {
    fc.assert(
      fc.property(permutedArb(counterArb), ([events, permuted]) => {
        assert.deepEqual(summary(fold(permuted).state), summary(fold(events).state));
        assert.equal(fold(events).state?.value ?? 0, events.reduce((t, e) => t + (e.type === 'CounterIncremented' ? e.delta : 0), 0));
      }),
    );
  });

  it('set events commute', () => {
    fc.assert(fc.property(permutedArb(setArb), ([events, permuted]) => assert.deepEqual(summary(fold(permuted).state), summary(fold(events).state))));
  });

  it('a stale expectedVersion changes nothing', () => {
    fc.assert(
      fc.property(eventsArb(docEventArb, true), docEventArb, fc.integer({ min: 0, max: 30 }), (events, payload, expected) => {
        const { state } = fold(events);
        fc.pre(expected !== (state?.version ?? 0));
        const before = structuredClone(state);
        const result = applyEvent(state, ev(payload, { expectedVersion: expected }), at(events.length));
        assert.equal(result.state, state);
        assert.deepEqual(state, before);
        assert.ok(result.outcome.status === 'rejected' && result.outcome.code === 'version_conflict');
      }),
    );
  });
});
