/**
 * Smoke test of the engines that `npm run engines:up` provides for the Kafka issue: the broker is
 * spoken to in its own wire protocol (no client library: this checks the engine, not a client) and
 * the schema registry through its Confluent-compatible HTTP API. Skips without the engines, fails
 * under ENGRAM_REQUIRE_ENGINES=1.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomInt, randomUUID } from 'node:crypto';
import { requireEngine } from './require-engine.js';

const TIMEOUT_MS = 10_000;
const API_VERSIONS = 18;

interface ApiVersionsResponse {
  correlationId: number;
  errorCode: number;
  apiKeys: Map<number, { min: number; max: number }>;
}

/** ApiVersions v0: size, api_key, api_version, correlation_id, client_id; the v0 body is empty. */
function apiVersionsRequest(correlationId: number): Buffer {
  const clientId = Buffer.from('engram-smoke');
  const frame = Buffer.alloc(4 + 2 + 2 + 4 + 2 + clientId.length);
  frame.writeInt32BE(frame.length - 4, 0);
  frame.writeInt16BE(API_VERSIONS, 4);
  frame.writeInt16BE(0, 6);
  frame.writeInt32BE(correlationId, 8);
  frame.writeInt16BE(clientId.length, 12);
  clientId.copy(frame, 14);
  return frame;
}

function parseApiVersionsResponse(body: Buffer): ApiVersionsResponse {
  const apiKeys = new Map<number, { min: number; max: number }>();
  const count = body.readInt32BE(6);
  for (let i = 0, at = 10; i < count; i++, at += 6) {
    apiKeys.set(body.readInt16BE(at), { min: body.readInt16BE(at + 2), max: body.readInt16BE(at + 4) });
  }
  return { correlationId: body.readInt32BE(0), errorCode: body.readInt16BE(4), apiKeys };
}

/** Writes one request frame and resolves with the response frame's payload (after its size). */
function roundTrip(host: string, port: number, request: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(TIMEOUT_MS, () => socket.destroy(new Error(`no answer from ${host}:${port} in ${TIMEOUT_MS} ms`)));
    let received = Buffer.alloc(0);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 4 && received.length >= 4 + received.readInt32BE(0)) {
        socket.end();
        resolve(received.subarray(4, 4 + received.readInt32BE(0)));
      }
    });
    socket.on('error', reject);
  });
}

/** An Avro record schema as the registry expects it: JSON text. */
function recordSchema(name: string, fields: Array<{ name: string; type: string; default?: unknown }>): string {
  return JSON.stringify({ type: 'record', name, namespace: 'dev.engram.smoke', fields });
}

async function registry(baseUrl: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? undefined : JSON.parse(text) };
}

describe('engines smoke: kafka broker and schema registry', () => {
  it('the kafka broker answers ApiVersions v0 with its correlation id and error code 0', async (t) => {
    const brokers = requireEngine(t, 'kafka', 'ENGRAM_KAFKA_BROKERS');
    if (brokers === undefined) return;
    const [host, port] = (brokers.split(',')[0] ?? '').split(':');
    const correlationId = randomInt(1, 2 ** 31 - 1);

    const response = parseApiVersionsResponse(await roundTrip(host ?? '', Number(port), apiVersionsRequest(correlationId)));

    assert.equal(response.correlationId, correlationId);
    assert.equal(response.errorCode, 0);
    for (const apiKey of [0, 1, 3, API_VERSIONS]) assert.ok(response.apiKeys.has(apiKey), `broker lacks api key ${apiKey}`);
  });

  it('the schema registry stores a schema, reads it back by id and refuses an incompatible one with 409', async (t) => {
    const baseUrl = requireEngine(t, 'schema registry', 'ENGRAM_SCHEMA_REGISTRY_URL');
    if (baseUrl === undefined) return;
    const subject = `engram-smoke-${randomUUID()}-value`;
    const v1 = recordSchema('Note', [{ name: 'text', type: 'string' }]);
    try {
      const registered = await registry(baseUrl, 'POST', `/subjects/${subject}/versions`, { schema: v1 });
      assert.equal(registered.status, 200, JSON.stringify(registered.json));
      const { id } = registered.json as { id: number };
      assert.ok(Number.isInteger(id) && id > 0, `id ${String(id)}`);

      const byId = await registry(baseUrl, 'GET', `/schemas/ids/${id}`);
      assert.equal(byId.status, 200);
      assert.deepEqual(JSON.parse((byId.json as { schema: string }).schema), JSON.parse(v1));

      const config = await registry(baseUrl, 'PUT', `/config/${subject}`, { compatibility: 'BACKWARD' });
      assert.equal(config.status, 200, JSON.stringify(config.json));

      // A new field with a default is a BACKWARD-compatible change; changing a field's type is not.
      const v2 = recordSchema('Note', [{ name: 'text', type: 'string' }, { name: 'tags', type: 'int', default: 0 }]);
      const evolved = await registry(baseUrl, 'POST', `/subjects/${subject}/versions`, { schema: v2 });
      assert.equal(evolved.status, 200, JSON.stringify(evolved.json));
      assert.notEqual((evolved.json as { id: number }).id, id);

      const broken = recordSchema('Note', [{ name: 'text', type: 'long' }]);
      const refused = await registry(baseUrl, 'POST', `/subjects/${subject}/versions`, { schema: broken });
      assert.equal(refused.status, 409, JSON.stringify(refused.json));
    } finally {
      await registry(baseUrl, 'DELETE', `/subjects/${subject}`).catch(() => undefined);
    }
  });
});
