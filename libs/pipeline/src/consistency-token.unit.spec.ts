import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EngramError } from '@engram/core';
import { decodeToken, encodeToken, mergePositions, type PositionMap } from './consistency-token.js';

const tokenOf = (body: string): string => `v1.${Buffer.from(body, 'utf8').toString('base64url')}`;

function assertInvalid(token: string): void {
  assert.throws(
    () => decodeToken(token),
    (error: unknown) => error instanceof EngramError && error.code === 'invalid_token' && error.details?.field === 'consistentWith',
    `expected ${JSON.stringify(token.slice(0, 60))} to be rejected`,
  );
}

describe('consistency tokens', () => {
  it('round-trips any position map', () => {
    const positions = fc
      .array(fc.tuple(fc.integer({ min: 0, max: 999_999 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })), { maxLength: 40 })
      .map((pairs) => new Map(pairs));
    fc.assert(
      fc.property(positions, (map) => {
        assert.deepEqual(decodeToken(encodeToken(map)), map);
      }),
    );
  });

  it('encodes in a stable order, whatever the insertion order', () => {
    const a = encodeToken(new Map([[3, 10], [0, 7], [1, 2]]));
    const b = encodeToken(new Map([[1, 2], [3, 10], [0, 7]]));
    assert.equal(a, b);
    assert.equal(a, tokenOf('0:7,1:2,3:10'));
  });

  it('accepts the empty token and returns no positions', () => {
    assert.equal(encodeToken(new Map()), 'v1.');
    assert.equal(decodeToken('v1.').size, 0);
  });

  it('keeps the highest offset when a partition is named twice', () => {
    assert.deepEqual(decodeToken(tokenOf('2:9,2:4,1:0')), new Map([[2, 9], [1, 0]]));
  });

  it('merge keeps the maximum per partition', () => {
    const into: PositionMap = new Map([[0, 5], [1, 9]]);
    const merged = mergePositions(into, [
      { partition: 0, offset: 3 },
      { partition: 0, offset: 8 },
      { partition: 1, offset: 2 },
      { partition: 2, offset: 0 },
    ]);
    assert.equal(merged, into, 'merges in place and returns the map');
    assert.deepEqual(merged, new Map([[0, 8], [1, 9], [2, 0]]));
  });

  it('merge is order-independent (property)', () => {
    const positions = fc.array(fc.record({ partition: fc.integer({ min: 0, max: 7 }), offset: fc.nat() }), { maxLength: 30 });
    fc.assert(
      fc.property(positions, (list) => {
        const forward = mergePositions(new Map(), list);
        const backward = mergePositions(new Map(), [...list].reverse());
        assert.deepEqual(forward, backward);
        for (const { partition, offset } of list) assert.ok(forward.get(partition)! >= offset);
      }),
    );
  });

  describe('malformed tokens are invalid_token', () => {
    it('wrong or missing prefix', () => {
      const body = Buffer.from('0:1', 'utf8').toString('base64url');
      for (const token of [body, `v2.${body}`, `V1.${body}`, `v1${body}`, '', `.${body}`]) assertInvalid(token);
    });

    it('content that is not the p:o list', () => {
      for (const body of ['hello', '0:', ':5', '0-5', '0:5,', ',0:5', '0:5;1:6', '0:5 ', '0:1.5', '0x1:5', '1234567:0', '0:12345678901234567']) {
        assertInvalid(tokenOf(body));
      }
    });

    it('characters outside base64url, or text that does not decode to a position list', () => {
      for (const token of ['v1.!!!', 'v1.%%%%', 'v1.M', 'v1.===', `v1.${Buffer.from('0:1').toString('base64url')}!`, 'v1.MTo1==']) {
        assertInvalid(token);
      }
    });

    it('negative or non-numeric offsets and partitions', () => {
      for (const body of ['0:-1', '-1:0', '0:abc', 'x:1', '0:NaN', '0:Infinity', '0:1e3']) assertInvalid(tokenOf(body));
    });

    it('offsets beyond the safe-integer range', () => {
      assertInvalid(tokenOf(`0:${Number.MAX_SAFE_INTEGER + 1}`));
      assert.deepEqual(decodeToken(tokenOf(`0:${Number.MAX_SAFE_INTEGER}`)), new Map([[0, Number.MAX_SAFE_INTEGER]]));
    });

    it('oversize tokens, even when well formed', () => {
      const big = new Map(Array.from({ length: 2000 }, (_, p) => [p, 1_000_000 + p] as [number, number]));
      const token = encodeToken(big);
      assert.ok(token.length > 16_384);
      assertInvalid(token);
      assertInvalid(`v1.${'A'.repeat(20_000)}`);
    });
  });
});
