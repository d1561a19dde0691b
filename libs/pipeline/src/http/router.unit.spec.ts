import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EngramError } from '@engram/core';
import { toProblem } from './problem.js';
import { createRouter, type Route } from './router.js';

const ok: Route['handler'] = async () => ({ status: 200 });
const route = (method: string, pattern: string, auth?: boolean): Route => ({ method, pattern, handler: ok, ...(auth === undefined ? {} : { auth }) });

const ROUTES: Route[] = [
  route('POST', '/v1/events'),
  route('GET', '/v1/memories/:namespace'),
  route('GET', '/v1/memories/:namespace/:key'),
  route('PUT', '/v1/memories/:namespace/:key'),
  route('DELETE', '/v1/memories/:namespace/:key'),
  route('GET', '/v1/memories/:namespace/:key/history'),
  route('GET', '/healthz', false),
];

function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof EngramError, `expected an EngramError, got ${String(error)}`);
    return error.code;
  }
  assert.fail('expected the call to throw');
}

describe('router', () => {
  const router = createRouter(ROUTES);

  it('matches literal routes and keeps route options', () => {
    const { route: matched, params } = router.match('POST', '/v1/events');
    assert.equal(matched.pattern, '/v1/events');
    assert.deepEqual(params, {});
    assert.equal(router.match('GET', '/healthz').route.auth, false);
    assert.equal(router.match('POST', '/v1/events/').route.pattern, '/v1/events', 'a trailing slash is ignored');
  });

  it('decodes a URL-encoded namespace as one segment', () => {
    const { route: matched, params } = router.match('GET', '/v1/memories/agents%2Fplanner%2Fsessions%2F42/note%3A1');
    assert.equal(matched.pattern, '/v1/memories/:namespace/:key');
    assert.deepEqual(params, { namespace: 'agents/planner/sessions/42', key: 'note:1' });
    assert.deepEqual(router.match('GET', '/v1/memories/agents%2fplanner').params, { namespace: 'agents/planner' }, 'lower-case escapes too');
    assert.deepEqual(router.match('GET', '/v1/memories/a%2Fb/k/history').params, { namespace: 'a/b', key: 'k' });
  });

  it('picks the route of the method among routes of the same path', () => {
    assert.equal(router.match('PUT', '/v1/memories/ns/k').route.method, 'PUT');
    assert.equal(router.match('DELETE', '/v1/memories/ns/k').route.method, 'DELETE');
  });

  it('answers method_not_allowed for a known path and another method, route_not_found otherwise', () => {
    assert.equal(errorCode(() => router.match('GET', '/v1/events')), 'method_not_allowed');
    assert.equal(errorCode(() => router.match('PATCH', '/v1/memories/ns/k')), 'method_not_allowed');
    assert.equal(errorCode(() => router.match('POST', '/healthz')), 'method_not_allowed');
    for (const path of ['/', '/v2/events', '/v1', '/v1/memories', '/V1/events', '/v1/memories/ns/k/history/more', '/v1/memories/ns/k/other']) {
      assert.equal(errorCode(() => router.match('GET', path)), 'route_not_found', path);
    }
  });

  it('does not bind an empty segment to a parameter', () => {
    assert.equal(errorCode(() => router.match('GET', '/v1/memories//k')), 'route_not_found');
    assert.deepEqual(router.match('GET', '/v1/memories/%2F%2F/').params, { namespace: '//' }, 'an encoded "//" is a real segment');
  });

  it('answers invalid_path for malformed percent-encoding', () => {
    for (const path of ['/v1/memories/%zz/k', '/v1/memories/ns/%E0%A4%A', '/v1/memories/%/k', '/v1/memories/%C3%28/k']) {
      assert.equal(errorCode(() => router.match('GET', path)), 'invalid_path', path);
    }
    assert.equal(toProblem(new EngramError('invalid_path', 'x')).status, 400);
  });
});
