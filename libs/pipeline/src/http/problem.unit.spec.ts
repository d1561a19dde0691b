import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConflictError, EngramError, LimitExceededError, NotFoundError, UnavailableError, ValidationError } from '@engram/core';
import { statusFor, toProblem } from './problem.js';

describe('problem+json mapping', () => {
  it('maps a not-found error with all RFC 9457 members and the stable code', () => {
    const problem = toProblem(new NotFoundError('memory_not_found', 'no memory notes/k', { namespace: 'notes', key: 'k' }));
    assert.deepEqual(problem, {
      type: 'https://engram.dev/problems/memory_not_found',
      title: 'memory not found',
      status: 404,
      code: 'memory_not_found',
      detail: 'no memory notes/k',
      retriable: false,
      details: { namespace: 'notes', key: 'k' },
    });
  });

  it('maps each known code to its status', () => {
    const cases: Array<[EngramError, number]> = [
      [new EngramError('unauthorized', 'no key'), 401],
      [new EngramError('forbidden', 'scope'), 403],
      [new EngramError('route_not_found', 'x'), 404],
      [new EngramError('method_not_allowed', 'x'), 405],
      [new ConflictError('version_conflict', 'expected 1, actual 2'), 412],
      [new ConflictError('kind_mismatch', 'counter vs document'), 409],
      [new EngramError('embedding_model_mismatch', 'x'), 409],
      [new ValidationError('invalid_if_match', 'x'), 400],
      [new LimitExceededError('batch size', 6, 5), 413],
      [new EngramError('body_too_large', 'x'), 413],
      [new EngramError('unsupported_media_type', 'x'), 415],
      // Retriable, but a read that timed out waiting is a gateway timeout, not "unavailable".
      [new EngramError('consistency_timeout', 'x', { retriable: true }), 504],
    ];
    for (const [error, status] of cases) assert.equal(toProblem(error).status, status, error.code);
  });

  it('maps validation codes to 400 and unknown retriable codes to 503', () => {
    for (const code of ['invalid_cursor', 'invalid_token', 'missing_field', 'unknown_event_type', 'invalid_namespace']) {
      assert.equal(toProblem(new ValidationError(code, 'bad')).status, 400, code);
    }
    const unavailable = toProblem(new UnavailableError('kv_unavailable', 'TiKV is down'));
    assert.equal(unavailable.status, 503);
    assert.equal(unavailable.retriable, true);
    assert.equal(statusFor('whatever_else', true), 503);
  });

  it('keeps limit details, and omits details when there are none', () => {
    const limit = toProblem(new LimitExceededError('batch size', 6, 5));
    assert.deepEqual(limit.details, { limit: 'batch size', actual: 6, max: 5 });
    assert.equal('details' in toProblem(new EngramError('forbidden', 'no')), false);
  });

  it('turns an unknown error into a 500 that leaks nothing', () => {
    for (const error of [new Error('password=hunter2 at db.internal:5432'), new TypeError('x is undefined'), 'a string', undefined]) {
      const problem = toProblem(error);
      assert.equal(problem.status, 500);
      assert.equal(problem.code, 'internal_error');
      assert.equal(problem.type, 'https://engram.dev/problems/internal_error');
      assert.doesNotMatch(JSON.stringify(problem), /hunter2|undefined|a string/);
      assert.equal('details' in problem, false);
    }
  });
});
