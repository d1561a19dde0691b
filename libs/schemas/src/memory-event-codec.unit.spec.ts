import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import type { MemoryEvent } from '@engram/core';
import { createLmdbSchemaRegistry } from '@engram/ports';
import type { SchemaRegistry } from '@engram/ports';
import { createMemoryEventCodec, loadSchema, memoryEventToAvro, parseAvro } from './index.js';
import { eventArb, expectedAfterTrip } from './memory-event.spec-helper.js';

describe('MemoryEvent codec', () => {
  let dir: string;
  let registry: SchemaRegistry;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-'));
    registry = createLmdbSchemaRegistry({ path: dir });
  });
  after(async () => {
    await registry.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('round-trips every event type, async and sync', async () => {
    const codec = createMemoryEventCodec(registry, 'memory-events');
    await codec.ready();
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(eventArb, async (event) => {
        seen.add(event.type);
        const expected = expectedAfterTrip(event);
        assert.deepStrictEqual(await codec.decode(await codec.encode(event)), expected);
        assert.deepStrictEqual(codec.decodeSync(codec.encodeSync(event)), expected);
      }),
      { numRuns: 300 },
    );
    assert.equal(seen.size, 6);
  });

  it('keeps integer attributes exact and integral, and other numbers as doubles', async () => {
    const codec = createMemoryEventCodec(registry, 'attributes');
    const event: MemoryEvent = {
      type: 'MemoryDeleted', eventId: 'e1', tenant: 't', namespace: 'n', key: 'k', actor: 'a', hlc: 1,
      metadata: { tags: [], attributes: { big: Number.MAX_SAFE_INTEGER, small: -3, half: 0.5, negZero: -0, huge: 2 ** 60, s: 's', b: false } },
    };
    const avro = memoryEventToAvro(event).metadata.attributes;
    assert.deepEqual(avro.big, { long: Number.MAX_SAFE_INTEGER });
    assert.deepEqual(avro.half, { double: 0.5 });
    assert.deepEqual(avro.huge, { double: 2 ** 60 });
    assert.deepStrictEqual((await codec.decode(await codec.encode(event))).metadata.attributes, event.metadata.attributes);
  });

  it('omits optional fields that were absent, and keeps those that were set', async () => {
    const codec = createMemoryEventCodec(registry, 'optional');
    const bare: MemoryEvent = { type: 'CounterIncremented', delta: -2, eventId: 'e', tenant: 't', namespace: 'n', key: 'k', actor: 'a', hlc: 9, metadata: { tags: [], attributes: {} } };
    const decoded = await codec.decode(await codec.encode(bare));
    assert.deepEqual(Object.keys(decoded).sort(), ['actor', 'delta', 'eventId', 'hlc', 'key', 'metadata', 'namespace', 'tenant', 'type']);
    assert.deepEqual(Object.keys(decoded.metadata).sort(), ['attributes', 'tags']);
    const traced = { ...bare, trace: { traceparent: '00-abc-def-01' }, expectedVersion: 0 };
    assert.deepStrictEqual(await codec.decode(await codec.encode(traced)), traced);
  });

  it('registers a self-contained schema that any reader can parse alone', async () => {
    const codec = createMemoryEventCodec(registry, 'self-contained');
    const id = await codec.ready();
    const stored = await registry.getById(id);
    const type = parseAvro(JSON.parse(stored.schema));
    assert.equal(type.name, 'dev.engram.v1.MemoryEvent');
    assert.ok(type.equals(loadSchema('memory-event').type));
    // The payload branches are named after the TypeScript event types.
    const payload = (JSON.parse(stored.schema) as { fields: { name: string; type: { name: string }[] }[] }).fields.find((f) => f.name === 'payload');
    assert.deepEqual(payload?.type.map((t) => t.name.replace('dev.engram.v1.', '')), ['MemoryWritten', 'MemoryPatched', 'MemoryDeleted', 'CounterIncremented', 'SetElementsAdded', 'SetElementsRemoved']);
  });
});
