import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseAvro } from './schema-files.js';

/** Reference zigzag varint (the Avro spec's long encoding), with BigInt so it is exact by construction. */
function referenceBytes(value: number): Buffer {
  const n = BigInt(value);
  let zigzag = n >= 0n ? n << 1n : ((-n) << 1n) - 1n;
  const bytes: number[] = [];
  while (zigzag > 0x7fn) {
    bytes.push(Number(zigzag & 0x7fn) | 0x80);
    zigzag >>= 7n;
  }
  bytes.push(Number(zigzag));
  return Buffer.from(bytes);
}

describe('exact long', () => {
  const long = parseAvro({ type: 'record', name: 'L', fields: [{ name: 'n', type: 'long' }] });
  const edges = [0, -1, 1, 63, -64, 64, 2 ** 30 - 1, -(2 ** 30), 2 ** 30, -(2 ** 30) - 1, 2 ** 52, -(2 ** 52), -(2 ** 52) - 1, -(2 ** 52) - 3, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];

  it('writes the bytes of the Avro spec and reads them back, over the whole safe range', () => {
    for (const n of edges) {
      assert.deepEqual(long.toBuffer({ n }), referenceBytes(n), `bytes of ${n}`);
      assert.equal(long.fromBuffer(referenceBytes(n)).n, n);
    }
    fc.assert(
      fc.property(fc.maxSafeInteger(), (n) => {
        assert.deepEqual(long.toBuffer({ n }), referenceBytes(n));
        assert.equal(long.fromBuffer(long.toBuffer({ n })).n, n);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses values and bytes outside the safe range instead of rounding them', () => {
    assert.throws(() => long.toBuffer({ n: 2 ** 53 }), /invalid "long"/);
    assert.throws(() => long.toBuffer({ n: 1.5 }), /invalid "long"/);
    assert.throws(() => long.fromBuffer(referenceBytes(Number.MAX_SAFE_INTEGER).fill(0xff, 0, 7)), /precision/);
  });

  it('reports truncated bytes', () => {
    assert.throws(() => long.fromBuffer(referenceBytes(2 ** 40).subarray(0, 3)), /truncated/);
  });

  it('is used in nested and nullable positions, and resolves from int', () => {
    const nested = parseAvro({ type: 'record', name: 'M', fields: [{ name: 'm', type: { type: 'map', values: ['null', { type: 'long' }] } }] });
    const value = { m: { a: -(2 ** 52) - 1, b: null } };
    assert.deepEqual(nested.fromBuffer(nested.toBuffer(value)).m, value.m);
    const intWriter = parseAvro({ type: 'record', name: 'L', fields: [{ name: 'n', type: 'int' }] });
    assert.equal(long.fromBuffer(intWriter.toBuffer({ n: -7 }), long.createResolver(intWriter)).n, -7);
  });
});
