import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeEntityId,
  encodeEntityId,
  murmur2,
  namespaceScanPrefix,
  partitionForEntity,
  tenantScanPrefix,
  validateEventId,
  validateKey,
  validateNamespace,
  validateTenant,
} from './ids.js';
import type { EntityRef } from './ids.js';
import { DEFAULT_LIMITS } from './limits.js';
import { EngramError } from './errors.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof EngramError, `expected an EngramError, got ${String(error)}`);
    return error.code;
  }
  assert.fail('expected a throw');
}

const chars = (s: string) => [...s];
const LOWER_DIGITS = chars('abcdefghijklmnopqrstuvwxyz0123456789');
const SEGMENT_CHARS = chars('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:@=+~-');
const KEY_CHARS = [...SEGMENT_CHARS, ','];

const tenantArb = fc
  .tuple(fc.constantFrom(...LOWER_DIGITS), fc.string({ unit: fc.constantFrom(...LOWER_DIGITS, '_', '-'), maxLength: 20 }))
  .map(([first, rest]) => first + rest);
const segmentArb = fc.string({ unit: fc.constantFrom(...SEGMENT_CHARS), minLength: 1, maxLength: 12 }).filter((s) => s !== '.' && s !== '..');
const namespaceArb = fc.array(segmentArb, { minLength: 1, maxLength: 5 }).map((segments) => segments.join('/'));
const keyArb = fc.string({ unit: fc.constantFrom(...KEY_CHARS), minLength: 1, maxLength: 30 });
const refArb: fc.Arbitrary<EntityRef> = fc.record({ tenant: tenantArb, namespace: namespaceArb, key: keyArb });

describe('murmur2 / partitionForEntity', () => {
  const enc = new TextEncoder();
  // Expected values from Kafka's UtilsTest.testMurmur2.
  const cases: Array<[string, number]> = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
    ['', 275646681],
  ];
  for (const [input, expected] of cases) {
    it(`matches Kafka for ${JSON.stringify(input)}`, () => {
      assert.equal(murmur2(enc.encode(input)), expected);
    });
  }

  it('partitions like Kafka: toPositive(murmur2) % n', () => {
    assert.equal(partitionForEntity('foobar', 1), 0);
    assert.equal(partitionForEntity('foobar', 12), (-790332482 & 0x7fffffff) % 12);
    assert.equal(partitionForEntity('21', 7), (-973932308 & 0x7fffffff) % 7);
  });

  it('always lands in [0, partitions)', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 1000 }), (id, n) => {
        const p = partitionForEntity(id, n);
        return Number.isInteger(p) && p >= 0 && p < n;
      }),
    );
  });

  it('rejects a non-positive partition count', () => {
    assert.equal(codeOf(() => partitionForEntity('x', 0)), 'invalid_partition_count');
    assert.equal(codeOf(() => partitionForEntity('x', 1.5)), 'invalid_partition_count');
  });
});

describe('validators', () => {
  it('accepts and rejects tenants', () => {
    assert.equal(validateTenant('acme-1_x'), 'acme-1_x');
    assert.equal(validateTenant('a'.repeat(64)), 'a'.repeat(64));
    for (const bad of ['', '-a', 'Acme', 'a'.repeat(65), 'a|b', 'a/b', 42]) {
      assert.equal(codeOf(() => validateTenant(bad)), 'invalid_tenant', String(bad));
    }
  });

  it('accepts and rejects namespaces', () => {
    assert.equal(validateNamespace('agents/planner/sessions/42', DEFAULT_LIMITS), 'agents/planner/sessions/42');
    assert.equal(validateNamespace('a.b/..c/user@x=1+2~3:4', DEFAULT_LIMITS), 'a.b/..c/user@x=1+2~3:4');
    for (const bad of ['', '/a', 'a/', 'a//b', 'a/./b', '..', 'a/../b', 'a|b', 'a b', 'a,b', 'é', 'x'.repeat(129), 7]) {
      assert.equal(codeOf(() => validateNamespace(bad, DEFAULT_LIMITS)), 'invalid_namespace', String(bad));
    }
    assert.equal(codeOf(() => validateNamespace(Array(33).fill('a').join('/'), DEFAULT_LIMITS)), 'invalid_namespace');
    assert.equal(validateNamespace(Array(32).fill('a').join('/'), DEFAULT_LIMITS).split('/').length, 32);
  });

  it('enforces the namespace byte limit with LimitExceededError', () => {
    const limits = { ...DEFAULT_LIMITS, maxNamespaceLength: 10 };
    assert.equal(validateNamespace('abcde/fghi', limits), 'abcde/fghi');
    assert.equal(codeOf(() => validateNamespace('abcde/fghij', limits)), 'limit_exceeded');
  });

  it('accepts and rejects keys', () => {
    assert.equal(validateKey('a,b:c@d=e+f~g-h_i.j', DEFAULT_LIMITS), 'a,b:c@d=e+f~g-h_i.j');
    for (const bad of ['', 'a/b', 'a|b', 'a b', 'ü', null]) {
      assert.equal(codeOf(() => validateKey(bad, DEFAULT_LIMITS)), 'invalid_key', String(bad));
    }
    assert.equal(codeOf(() => validateKey('k'.repeat(513), DEFAULT_LIMITS)), 'limit_exceeded');
    assert.equal(validateKey('k'.repeat(512), DEFAULT_LIMITS).length, 512);
  });

  it('accepts and rejects event ids', () => {
    assert.equal(validateEventId('01HZX-abc:1'), '01HZX-abc:1');
    for (const bad of ['', 'a,b', 'a/b', 'x'.repeat(129), undefined]) {
      assert.equal(codeOf(() => validateEventId(bad)), 'invalid_event_id', String(bad));
    }
  });

  it('puts the field name in details', () => {
    try {
      validateKey('a/b', DEFAULT_LIMITS);
      assert.fail('expected a throw');
    } catch (error) {
      assert.ok(error instanceof EngramError);
      assert.equal(error.details?.field, 'key');
    }
  });
});

describe('entity ids', () => {
  it('encodes canonically and builds scan prefixes', () => {
    const ref = { tenant: 'acme', namespace: 'agents/planner', key: 'notes' };
    const id = encodeEntityId(ref);
    assert.equal(id, 'acme|agents/planner|notes');
    assert.ok(id.startsWith(namespaceScanPrefix('acme', 'agents/planner')));
    assert.ok(id.startsWith(tenantScanPrefix('acme')));
    // Exact namespace: a sub-namespace's ids do not share the prefix.
    assert.ok(!encodeEntityId({ ...ref, namespace: 'agents/planner/x' }).startsWith(namespaceScanPrefix('acme', 'agents/planner')));
    assert.ok(!encodeEntityId({ ...ref, tenant: 'acme2' }).startsWith(tenantScanPrefix('acme')));
  });

  it('rejects malformed ids', () => {
    for (const bad of ['', 'acme|ns', 'acme|ns|k|x', 'ACME|ns|k', 'acme||k', 'acme|ns|', 'acme|a//b|k']) {
      assert.equal(codeOf(() => decodeEntityId(bad)), 'invalid_entity_id', bad);
    }
  });

  it('round-trips every valid ref (property)', () => {
    fc.assert(
      fc.property(refArb, (ref) => {
        validateTenant(ref.tenant);
        validateNamespace(ref.namespace, DEFAULT_LIMITS);
        validateKey(ref.key, DEFAULT_LIMITS);
        assert.deepEqual(decodeEntityId(encodeEntityId(ref)), { ...ref });
      }),
    );
  });

  it('never maps distinct refs to one id (property)', () => {
    fc.assert(
      fc.property(refArb, refArb, (a, b) => {
        const same = a.tenant === b.tenant && a.namespace === b.namespace && a.key === b.key;
        return same === (encodeEntityId(a) === encodeEntityId(b));
      }),
    );
  });
});
