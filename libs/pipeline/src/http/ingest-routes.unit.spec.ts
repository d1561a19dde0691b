import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EngramError } from '@engram/core';
import { parseIfMatch } from './ingest-routes.js';

describe('parseIfMatch', () => {
  it('is undefined without the header', () => {
    assert.equal(parseIfMatch(undefined), undefined);
  });

  it('reads the ETag we hand out, a bare number and a weak tag', () => {
    assert.equal(parseIfMatch('"3"'), 3);
    assert.equal(parseIfMatch('3'), 3);
    assert.equal(parseIfMatch('W/"3"'), 3);
    assert.equal(parseIfMatch('"0"'), 0);
    assert.equal(parseIfMatch('  "42"  '), 42);
    assert.equal(parseIfMatch('"999999999999999"'), 999_999_999_999_999);
  });

  it('refuses anything else with invalid_if_match', () => {
    for (const header of ['', '*', '"abc"', '"-1"', '-1', '"1.5"', '"1", "2"', '""', '"1234567890123456"', '"3', '3"', 'W/3', 'w/"3"', '"3"x']) {
      assert.throws(
        () => parseIfMatch(header),
        (error: unknown) => error instanceof EngramError && error.code === 'invalid_if_match' && error.details?.field === 'If-Match',
        JSON.stringify(header),
      );
    }
  });
});
