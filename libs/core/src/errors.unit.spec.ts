import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EngramError, UnavailableError, ValidationError, errorFromWire, errorToWire, isEngramError } from './errors.js';

/** What postMessage does to a value. */
const clone = <T>(value: T): T => structuredClone(value);

describe('errors across a thread boundary', () => {
  it('keeps an Engram error\'s code, retriable flag, details and message through structured clone', () => {
    const sent = new UnavailableError('embedder_unavailable', 'worker stopped', { details: { worker: 2 } });
    const back = errorFromWire(clone(errorToWire(sent)));
    assert.ok(isEngramError(back));
    assert.equal(back.code, 'embedder_unavailable');
    assert.equal(back.retriable, true);
    assert.deepEqual(back.details, { worker: 2 });
    assert.equal(back.message, 'worker stopped');

    const invalid = errorFromWire(clone(errorToWire(new ValidationError('vector_dims_mismatch', 'dims 3, want 4'))));
    assert.ok(isEngramError(invalid) && invalid.code === 'vector_dims_mismatch' && !invalid.retriable && invalid.details === undefined);
  });

  it('keeps other errors plain, with their name and message', () => {
    const back = errorFromWire(clone(errorToWire(new TypeError('bad thing'))));
    assert.ok(!(back instanceof EngramError));
    assert.equal(back.name, 'TypeError');
    assert.equal(back.message, 'bad thing');
    assert.equal(errorFromWire(errorToWire('a string')).message, 'a string');
  });
});
