import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { knownJsonText, parseEventInput } from './event-input.js';
import type { EventInputContext } from './event-input.js';
import { EngramError } from './errors.js';
import { DEFAULT_LIMITS } from './limits.js';
import type { Limits } from './limits.js';

function ctx(limits: Partial<Limits> = {}): EventInputContext {
  let n = 0;
  return { tenant: 'acme', limits: { ...DEFAULT_LIMITS, ...limits }, hlc: 4242, newEventId: () => `gen-${++n}` };
}

const base = { namespace: 'agents/planner', key: 'notes' };

function failure(raw: unknown, context = ctx()): { code: string; field: unknown } {
  try {
    parseEventInput(raw, context);
  } catch (error) {
    assert.ok(error instanceof EngramError, String(error));
    return { code: error.code, field: error.details?.field };
  }
  assert.fail('expected parseEventInput to throw');
}

describe('parseEventInput: happy paths', () => {
  it('parses a MemoryWritten with every optional field', () => {
    const event = parseEventInput(
      {
        ...base,
        eventId: 'client-1',
        type: 'MemoryWritten',
        value: { plan: ['a', 'b'], done: false },
        expectedVersion: 3,
        text: 'the plan',
        vectors: { image: [0.5, -1, 2] },
        expiresAt: '2030-01-02T03:04:05.006Z',
        metadata: { agentId: 'planner', sessionId: 's-1', runId: 'r-1', tags: ['b', 'a', 'b'], attributes: { priority: 2, urgent: true, owner: 'x' } },
      },
      ctx({ vectorDims: { image: 3 } }),
    );
    assert.deepEqual(event, {
      eventId: 'client-1',
      tenant: 'acme',
      namespace: 'agents/planner',
      key: 'notes',
      actor: 'planner',
      hlc: 4242,
      expectedVersion: 3,
      text: 'the plan',
      vectors: { image: [0.5, -1, 2] },
      expiresAt: Date.UTC(2030, 0, 2, 3, 4, 5, 6),
      metadata: { agentId: 'planner', sessionId: 's-1', runId: 'r-1', tags: ['a', 'b'], attributes: { owner: 'x', priority: 2, urgent: true } },
      type: 'MemoryWritten',
      value: { plan: ['a', 'b'], done: false },
    });
  });

  it('generates the event id, defaults actor and metadata', () => {
    const event = parseEventInput({ ...base, type: 'MemoryDeleted' }, ctx());
    assert.deepEqual(event, { eventId: 'gen-1', tenant: 'acme', ...base, actor: 'anonymous', hlc: 4242, metadata: { tags: [], attributes: {} }, type: 'MemoryDeleted' });
  });

  it('prefers an explicit actor and treats null optional fields as absent', () => {
    const event = parseEventInput({ ...base, type: 'MemoryWritten', value: null, actor: 'bot-7', text: null, metadata: { agentId: 'planner' } }, ctx());
    assert.equal(event.actor, 'bot-7');
    assert.equal(event.type === 'MemoryWritten' && event.value, null);
    assert.equal('text' in event, false);
  });

  it('parses MemoryPatched, CounterIncremented and both set events', () => {
    const patched = parseEventInput({ ...base, type: 'MemoryPatched', patch: { a: null } }, ctx());
    assert.deepEqual(patched.type === 'MemoryPatched' && patched.patch, { a: null });
    const counted = parseEventInput({ ...base, type: 'CounterIncremented', delta: -3 }, ctx());
    assert.equal(counted.type === 'CounterIncremented' && counted.delta, -3);
    const added = parseEventInput({ ...base, type: 'SetElementsAdded', elements: ['y', 'x', 'y'] }, ctx());
    assert.deepEqual(added.type === 'SetElementsAdded' && added.elements, ['x', 'y']);
    const removed = parseEventInput({ ...base, type: 'SetElementsRemoved', elements: ['x'] }, ctx());
    assert.deepEqual(removed.type === 'SetElementsRemoved' && removed.elements, ['x']);
  });

  it('accepts expiresAt as epoch ms, a date, or a date-time with offset', () => {
    const parse = (expiresAt: unknown) => parseEventInput({ ...base, type: 'MemoryDeleted', expiresAt }, ctx()).expiresAt;
    assert.equal(parse(1_900_000_000_000), 1_900_000_000_000);
    assert.equal(parse('2030-06-01'), Date.UTC(2030, 5, 1));
    assert.equal(parse('2030-06-01T02:00:00+02:00'), Date.UTC(2030, 5, 1));
  });
});

describe('parseEventInput: errors', () => {
  const cases: Array<[string, unknown, string, unknown]> = [
    ['not an object', [1], 'invalid_event', undefined],
    ['null', null, 'invalid_event', undefined],
    ['missing type', { ...base }, 'missing_field', 'type'],
    ['unknown type', { ...base, type: 'MemoryExploded' }, 'unknown_event_type', 'type'],
    ['unknown field', { ...base, type: 'MemoryDeleted', tenant: 'evil' }, 'invalid_field', 'tenant'],
    ['__proto__ field', JSON.parse('{"namespace":"a","key":"b","type":"MemoryDeleted","__proto__":{}}'), 'invalid_field', '__proto__'],
    ['field of another type', { ...base, type: 'CounterIncremented', delta: 1, value: 2 }, 'invalid_field', 'value'],
    ['missing namespace', { key: 'k', type: 'MemoryDeleted' }, 'missing_field', 'namespace'],
    ['missing key', { namespace: 'n', type: 'MemoryDeleted' }, 'missing_field', 'key'],
    ['bad namespace', { ...base, namespace: 'a/../b', type: 'MemoryDeleted' }, 'invalid_namespace', 'namespace'],
    ['bad key', { ...base, key: 'a/b', type: 'MemoryDeleted' }, 'invalid_key', 'key'],
    ['bad event id', { ...base, eventId: 'a b', type: 'MemoryDeleted' }, 'invalid_event_id', 'eventId'],
    ['bad actor', { ...base, actor: '', type: 'MemoryDeleted' }, 'invalid_field', 'actor'],
    ['missing value', { ...base, type: 'MemoryWritten' }, 'missing_field', 'value'],
    ['non-JSON value', { ...base, type: 'MemoryWritten', value: { n: Number.NaN } }, 'invalid_field', 'value'],
    ['Date value', { ...base, type: 'MemoryWritten', value: { at: new Date(0) } }, 'invalid_field', 'value'],
    ['missing patch', { ...base, type: 'MemoryPatched' }, 'missing_field', 'patch'],
    ['missing delta', { ...base, type: 'CounterIncremented' }, 'missing_field', 'delta'],
    ['zero delta', { ...base, type: 'CounterIncremented', delta: 0 }, 'invalid_field', 'delta'],
    ['fractional delta', { ...base, type: 'CounterIncremented', delta: 1.5 }, 'invalid_field', 'delta'],
    ['string delta', { ...base, type: 'CounterIncremented', delta: '1' }, 'invalid_field', 'delta'],
    ['missing elements', { ...base, type: 'SetElementsAdded' }, 'missing_field', 'elements'],
    ['empty elements', { ...base, type: 'SetElementsAdded', elements: [] }, 'invalid_field', 'elements'],
    ['empty element', { ...base, type: 'SetElementsRemoved', elements: [''] }, 'invalid_field', 'elements'],
    ['long element', { ...base, type: 'SetElementsRemoved', elements: ['x'.repeat(257)] }, 'invalid_field', 'elements'],
    ['negative expectedVersion', { ...base, type: 'MemoryDeleted', expectedVersion: -1 }, 'invalid_field', 'expectedVersion'],
    ['text not a string', { ...base, type: 'MemoryDeleted', text: 5 }, 'invalid_field', 'text'],
    ['unconfigured vector modality', { ...base, type: 'MemoryDeleted', vectors: { image: [1] } }, 'invalid_field', 'vectors.image'],
    ['expiresAt without offset', { ...base, type: 'MemoryDeleted', expiresAt: '2030-01-01T00:00:00' }, 'invalid_field', 'expiresAt'],
    ['expiresAt not a date', { ...base, type: 'MemoryDeleted', expiresAt: '2030-02-30' }, 'invalid_field', 'expiresAt'],
    ['expiresAt fractional', { ...base, type: 'MemoryDeleted', expiresAt: 1.5 }, 'invalid_field', 'expiresAt'],
    ['metadata not an object', { ...base, type: 'MemoryDeleted', metadata: 'x' }, 'invalid_field', 'metadata'],
    ['unknown metadata field', { ...base, type: 'MemoryDeleted', metadata: { color: 'red' } }, 'invalid_field', 'metadata.color'],
    ['bad agentId', { ...base, type: 'MemoryDeleted', metadata: { agentId: 'a/b' } }, 'invalid_field', 'metadata.agentId'],
    ['bad sessionId', { ...base, type: 'MemoryDeleted', metadata: { sessionId: 'x'.repeat(129) } }, 'invalid_field', 'metadata.sessionId'],
    ['bad tag', { ...base, type: 'MemoryDeleted', metadata: { tags: [1] } }, 'invalid_field', 'metadata.tags'],
    ['bad attribute', { ...base, type: 'MemoryDeleted', metadata: { attributes: { a: { b: 1 } } } }, 'invalid_field', 'metadata.attributes.a'],
  ];
  for (const [name, raw, code, field] of cases) {
    it(`${name} → ${code}`, () => {
      assert.deepEqual(failure(raw), { code, field });
    });
  }

  it('checks vector dimensions and values', () => {
    const context = ctx({ vectorDims: { image: 2 } });
    assert.deepEqual(failure({ ...base, type: 'MemoryDeleted', vectors: { image: [1, 2, 3] } }, context), { code: 'invalid_field', field: 'vectors.image' });
    assert.deepEqual(failure({ ...base, type: 'MemoryDeleted', vectors: { image: [1, Number.POSITIVE_INFINITY] } }, context), { code: 'invalid_field', field: 'vectors.image' });
  });

  it('rejects a too-deeply nested value', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    assert.deepEqual(failure({ ...base, type: 'MemoryWritten', value: deep }), { code: 'invalid_field', field: 'value' });
  });

  it('rejects an invalid tenant from the context', () => {
    assert.deepEqual(failure({ ...base, type: 'MemoryDeleted' }, { ...ctx(), tenant: 'Not Valid' }), { code: 'invalid_tenant', field: 'tenant' });
  });
});

describe('parseEventInput: limits', () => {
  const cases: Array<[string, unknown, Partial<Limits>, string]> = [
    ['value bytes (UTF-8 of JSON)', { ...base, type: 'MemoryWritten', value: 'é'.repeat(5) }, { maxValueBytes: 11 }, 'value'],
    ['patch bytes', { ...base, type: 'MemoryPatched', patch: { a: 'xxxxxxxx' } }, { maxValueBytes: 10 }, 'patch'],
    ['text length', { ...base, type: 'MemoryDeleted', text: 'abcd' }, { maxTextLength: 3 }, 'text'],
    ['key length', { ...base, key: 'abcd', type: 'MemoryDeleted' }, { maxKeyLength: 3 }, 'key'],
    ['namespace length', { ...base, type: 'MemoryDeleted' }, { maxNamespaceLength: 5 }, 'namespace'],
    ['element count', { ...base, type: 'SetElementsAdded', elements: ['a', 'b', 'c'] }, { maxElements: 2 }, 'elements'],
    ['tag count', { ...base, type: 'MemoryDeleted', metadata: { tags: ['a', 'b'] } }, { maxTags: 1 }, 'metadata.tags'],
    ['tag length', { ...base, type: 'MemoryDeleted', metadata: { tags: ['abc'] } }, { maxTagLength: 2 }, 'metadata.tags'],
    ['attribute count', { ...base, type: 'MemoryDeleted', metadata: { attributes: { a: 1, b: 2 } } }, { maxAttributes: 1 }, 'metadata.attributes'],
  ];
  for (const [name, raw, limits, field] of cases) {
    it(`${name} → limit_exceeded`, () => {
      assert.deepEqual(failure(raw, ctx(limits)), { code: 'limit_exceeded', field });
    });
  }

  it('accepts values exactly at the limit', () => {
    // JSON of 'é'.repeat(5) is 2 quote bytes + 10 bytes.
    const event = parseEventInput({ ...base, type: 'MemoryWritten', value: 'é'.repeat(5) }, ctx({ maxValueBytes: 12 }));
    assert.equal(event.type === 'MemoryWritten' && event.value, 'ééééé');
  });
});

describe('knownJsonText', () => {
  it('holds the JSON text of object values and patches parsed here, and nothing else', () => {
    const value = { b: [1, 'two', null], a: { nested: true }, s: 'é' };
    const written = parseEventInput({ ...base, type: 'MemoryWritten', value }, ctx());
    assert.equal(written.type === 'MemoryWritten' && knownJsonText(written.value), JSON.stringify(value));
    const patched = parseEventInput({ ...base, type: 'MemoryPatched', patch: [3, 4] }, ctx());
    assert.equal(patched.type === 'MemoryPatched' && knownJsonText(patched.patch), '[3,4]');
    const scalar = parseEventInput({ ...base, type: 'MemoryWritten', value: 'text' }, ctx());
    assert.equal(scalar.type === 'MemoryWritten' && knownJsonText(scalar.value), undefined, 'a scalar is serialised again, cheaply');
    assert.equal(knownJsonText({ ...value }), undefined, 'an equal object that was not parsed here');
    // A value refused for its size leaves nothing behind.
    const big = { note: 'x'.repeat(100) };
    failure({ ...base, type: 'MemoryWritten', value: big }, ctx({ maxValueBytes: 50 }));
    assert.equal(knownJsonText(big), undefined);
  });
});
