import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS } from './limits.js';
import { utf8ByteLength, utf8BytesOver } from './utf8.js';

describe('DEFAULT_LIMITS', () => {
  it('has the documented defaults and allows no client vectors', () => {
    assert.deepEqual(DEFAULT_LIMITS, {
      maxBodyBytes: 1048576,
      maxBatchSize: 1000,
      maxValueBytes: 262144,
      maxTextLength: 32768,
      maxKeyLength: 512,
      maxNamespaceLength: 512,
      maxTags: 64,
      maxTagLength: 128,
      maxElements: 1000,
      maxAttributes: 64,
      vectorDims: {},
    });
    assert.ok(Object.isFrozen(DEFAULT_LIMITS) && Object.isFrozen(DEFAULT_LIMITS.vectorDims));
  });
});

describe('utf8ByteLength', () => {
  it('agrees with TextEncoder, including surrogate pairs and lone surrogates', () => {
    for (const s of ['', 'abc', 'é', '€', '😀', 'a😀b', '\ud800', '\udc00x', '\ud800\ud800', 'x\ud83d']) {
      assert.equal(utf8ByteLength(s), new TextEncoder().encode(s).length, JSON.stringify(s));
    }
  });
});

describe('utf8BytesOver', () => {
  it('gives the byte length only past the limit, counting multi-byte characters', () => {
    assert.equal(utf8BytesOver('abc', 3), undefined);
    assert.equal(utf8BytesOver('abcd', 3), 4);
    assert.equal(utf8BytesOver('ééé', 6), undefined, '3 units that could be 9 bytes are counted: 6');
    assert.equal(utf8BytesOver('ééé', 5), 6);
    assert.equal(utf8BytesOver('€€', 5), 6);
    assert.equal(utf8BytesOver('😀😀', 8), undefined);
    assert.equal(utf8BytesOver('😀😀', 7), 8);
    assert.equal(utf8BytesOver('é'.repeat(100), 300), undefined, 'short enough not to count');
  });
});
