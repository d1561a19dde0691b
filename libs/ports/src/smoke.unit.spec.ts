import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EngramError } from '@engram/core';
import { namespaceMatches } from './vector-index.js';

describe('smoke', () => {
  it('resolves workspace packages', () => {
    assert.equal(new EngramError('x', 'y').code, 'x');
    assert.equal(namespaceMatches('a/b', 'a'), true);
    assert.equal(namespaceMatches('ab', 'a'), false);
  });
});
