/**
 * The adapter's own behaviour against a stub registry on localhost (no engine needed): the id cache,
 * bounded requests, and how transport failures and registry answers are translated.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createConfluentSchemaRegistry } from './confluent-schema-registry.js';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

const SCHEMA = JSON.stringify({ type: 'record', name: 'S', namespace: 'dev.engram.stub', fields: [{ name: 'id', type: 'string' }] });

/** A registry stand-in: `handler` answers, `requests` records each `METHOD path`. */
async function stub(handler: Handler): Promise<{ url: string; requests: string[]; server: Server }> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    handler(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, server };
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function hasCode(code: string, check: (error: Error & { retriable?: boolean }) => void = () => undefined) {
  return (error: Error & { code?: string; retriable?: boolean }): boolean => {
    assert.equal(error.code, code, String(error));
    check(error);
    return true;
  };
}

describe('Confluent-API schema registry adapter (stub registry)', () => {
  let registry: Awaited<ReturnType<typeof stub>>;

  before(async () => {
    registry = await stub((request, response) => {
      if (request.url === '/schemas/ids/7') return json(response, 200, { schema: SCHEMA });
      if (request.url?.startsWith('/schemas/ids/7/versions')) return json(response, 200, [{ subject: 's-value', version: 3 }]);
      if (request.url?.startsWith('/schemas/ids/')) return json(response, 404, { error_code: 40403, message: 'Schema not found' });
      if (request.url === '/subjects/busy-value/versions/latest') return json(response, 503, { error_code: 50003, message: 'try later' });
      return json(response, 500, { message: 'unexpected' });
    });
  });
  after(async () => {
    await stop(registry.server);
  });

  it('serves getById from memory after the first fetch, and shares one fetch between concurrent calls', async () => {
    const adapter = createConfluentSchemaRegistry({ url: `${registry.url}/` });
    const before = registry.requests.length;
    const [a, b] = await Promise.all([adapter.getById(7), adapter.getById(7)]);
    const again = await adapter.getById(7);
    assert.deepEqual(a, { id: 7, subject: 's-value', version: 3, schema: JSON.stringify({ name: 'dev.engram.stub.S', type: 'record', fields: [{ name: 'id', type: 'string' }] }) });
    assert.deepEqual([b, again], [a, a]);
    assert.equal(registry.requests.length - before, 2); // the schema and its subject versions, once
    await adapter.close();
  });

  it('asks again for an unknown id instead of caching the miss', async () => {
    const adapter = createConfluentSchemaRegistry({ url: registry.url });
    const before = registry.requests.filter((r) => r.startsWith('GET /schemas/ids/9')).length;
    await assert.rejects(adapter.getById(9), hasCode('schema_not_found'));
    await assert.rejects(adapter.getById(9), hasCode('schema_not_found'));
    assert.equal(registry.requests.filter((r) => r.startsWith('GET /schemas/ids/9')).length - before, 4);
    await assert.rejects(adapter.getById(-1), hasCode('schema_not_found'));
    await adapter.close();
  });

  it('turns a 5xx into a retriable schema_registry_unavailable', async () => {
    const adapter = createConfluentSchemaRegistry({ url: registry.url });
    await assert.rejects(adapter.getLatest('busy-value'), hasCode('schema_registry_unavailable', (error) => {
      assert.equal(error.retriable, true);
      assert.match(error.message, /503.*try later/);
    }));
    await adapter.close();
  });

  it('refuses text that is not Avro before any request', async () => {
    const adapter = createConfluentSchemaRegistry({ url: registry.url });
    const before = registry.requests.length;
    await assert.rejects(adapter.register('x-value', '{"type":"nope"}'), hasCode('schema_invalid'));
    assert.equal(registry.requests.length, before);
    await adapter.close();
  });

  it('fails fast with schema_registry_unavailable, keeping the cause, when nothing listens', async () => {
    const closed = await stub(() => undefined);
    await stop(closed.server);
    const adapter = createConfluentSchemaRegistry({ url: closed.url });
    const started = performance.now();
    await assert.rejects(adapter.register('x-value', SCHEMA), hasCode('schema_registry_unavailable', (error) => {
      assert.equal(error.retriable, true);
      assert.ok(error.cause !== undefined);
      assert.match(error.message, /ECONNREFUSED/);
    }));
    assert.ok(performance.now() - started < 2000, 'a refused connection must not be retried or waited on');
    await adapter.close();
  });

  it('bounds a registry that accepts the connection and never answers', async () => {
    const silent = await stub(() => undefined);
    const adapter = createConfluentSchemaRegistry({ url: silent.url, requestTimeoutMs: 200 });
    const started = performance.now();
    await assert.rejects(adapter.getLatest('x-value'), hasCode('schema_registry_unavailable', (error) => {
      assert.match(error.message, /did not answer within 200 ms/);
    }));
    assert.ok(performance.now() - started < 2000);
    await adapter.close();
    await stop(silent.server);
  });

  it('aborts a request in flight on close and refuses calls afterwards with registry_closed', async () => {
    const silent = await stub(() => undefined);
    const adapter = createConfluentSchemaRegistry({ url: silent.url, requestTimeoutMs: 10_000 });
    const pending = adapter.getById(1);
    // Close once the request has reached the server, so the abort hits a request in flight.
    while (silent.requests.length === 0) await new Promise((resolve) => setImmediate(resolve));
    await adapter.close();
    await assert.rejects(pending, hasCode('registry_closed'));
    await assert.rejects(adapter.getLatest('x-value'), hasCode('registry_closed'));
    await stop(silent.server);
  });
});
