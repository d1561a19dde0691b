import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { packEntries, unpackEntries } from './projection-thread-protocol.js';

describe('projection thread protocol', () => {
  it('packs cache entries into one buffer and unpacks them unchanged, empty values included', () => {
    // Values as the projector has them: views into larger buffers, which must not leak across.
    const pool = Buffer.from('xx{"a":1}yy{}zz{"b":"ü"}');
    const entries = [
      { key: 't|n|a', value: pool.subarray(2, 9), version: 3 },
      { key: 't|n|empty', value: Buffer.alloc(0), version: 1 },
      { key: 't|n|b', value: pool.subarray(15), version: 12 },
    ];
    const packed = packEntries(entries);
    assert.equal(packed.bytes.byteLength, 7 + 0 + (pool.length - 15));
    const back = unpackEntries(structuredClone(packed, { transfer: [packed.bytes] }));
    assert.deepEqual(
      back.map((e) => ({ key: e.key, value: e.value.toString(), version: e.version })),
      entries.map((e) => ({ key: e.key, value: e.value.toString(), version: e.version })),
    );
  });
});
