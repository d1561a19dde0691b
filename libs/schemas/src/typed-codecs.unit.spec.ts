import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import type { EnrichedEvent, MemoryState } from '@engram/core';
import { createLmdbSchemaRegistry } from '@engram/ports';
import type { SchemaRegistry } from '@engram/ports';
import { bytesToVector, createDeadLetterCodec, createEnrichedEventCodec, createMemoryStateCodec, parseAvro, vectorToBytes } from './index.js';
import type { DeadLetter } from './index.js';

const enriched: EnrichedEvent = {
  event: {
    type: 'SetElementsAdded', elements: ['red', 'blue'], eventId: 'e-7', tenant: 't', namespace: 'ns/a', key: 'colors', actor: 'agent-1', hlc: 42,
    vectors: { image: [0.5, -1.25] }, metadata: { sessionId: 's', tags: [], attributes: {} },
  },
  source: { partition: 3, offset: 1234 },
  embeddings: [{ modality: 'text', model: 'hash-v1', revision: '1', dims: 3, vector: new Float32Array([0.1, -0.2, 3e30]) }],
};

const counterState: MemoryState = {
  tenant: 't', namespace: 'ns', key: 'hits', kind: 'counter', value: -3, deleted: false,
  metadata: { agentId: 'a', tags: ['x', 'y'], attributes: { n: 1, f: 1.5, s: 's', b: true } },
  version: 4, hlc: 99, createdHlc: 10, versionVector: { a: 3, b: 1 }, lastApplied: { partition: 1, offset: 77 },
  counter: { p: { a: 2 }, n: { b: 5 } }, embeddingModel: 'hash-v1',
};

const setState: MemoryState = {
  tenant: 't', namespace: 'ns', key: 'colors', kind: 'set', value: ['blue', 'red'], deleted: false, text: 'colors',
  metadata: { tags: [], attributes: {} }, version: 2, hlc: 5, createdHlc: 4, versionVector: { a: 2 },
  lastApplied: { partition: 0, offset: 2 }, expiresAt: 1_800_000_000_000,
  set: { adds: { blue: ['4:e1'], red: ['5:e2'] }, removedAt: { green: 3 } },
  archive: { uri: 'file:///archive/seg-1.avro', archivedAt: 1_750_000_000_000 },
};

describe('typed codecs', () => {
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

  it('round-trips an EnrichedEvent, vectors as little-endian float32 bytes', async () => {
    const codec = createEnrichedEventCodec(registry, 'memory-enriched');
    const decoded = await codec.decode(await codec.encode(enriched));
    assert.deepStrictEqual(decoded, enriched);
    assert.ok(decoded.embeddings[0]?.vector instanceof Float32Array);
    const withError: EnrichedEvent = { ...enriched, embeddings: [], enrichmentError: 'model unavailable' };
    assert.deepStrictEqual(await codec.decode(await codec.encode(withError)), withError);
  });

  it('registers one self-contained enriched schema holding the MemoryEvent type', async () => {
    const codec = createEnrichedEventCodec(registry, 'enriched-self-contained');
    const text = (await registry.getById(await codec.ready())).schema;
    const type = parseAvro(JSON.parse(text));
    assert.equal(type.name, 'dev.engram.v1.EnrichedMemoryEvent');
    assert.match(text, /"name":"dev.engram.v1.MemoryEvent"/);
  });

  it('packs vectors as little-endian float32 and unpacks unaligned bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.float(), { maxLength: 16 }), (values) => {
        const vector = new Float32Array(values);
        const bytes = vectorToBytes(vector);
        assert.equal(bytes.length, 4 * values.length);
        values.forEach((v, i) => assert.ok(Object.is(bytes.readFloatLE(4 * i), v)));
        const unaligned = Buffer.concat([Buffer.from([9]), bytes]).subarray(1);
        assert.deepStrictEqual(bytesToVector(unaligned), vector);
      }),
    );
    assert.throws(() => bytesToVector(Buffer.alloc(6)), /6 bytes/);
  });

  it('refuses an embedding whose dims do not match its vector', async () => {
    const codec = createEnrichedEventCodec(registry, 'memory-enriched-dims');
    const bad = { ...enriched, embeddings: [{ ...enriched.embeddings[0]!, dims: 4 }] };
    await assert.rejects(codec.encode(bad), { code: 'unencodable_record', message: /says 4 dims but has 3/ });
  });

  it('round-trips counter, set and deleted MemoryStates', async () => {
    const codec = createMemoryStateCodec(registry, 'memory-state');
    const deleted: MemoryState = { ...counterState, kind: 'document', value: null, deleted: true, counter: undefined };
    delete deleted.counter;
    for (const state of [counterState, setState, deleted]) {
      assert.deepStrictEqual(await codec.decode(await codec.encode(state)), state);
    }
  });

  it('round-trips DeadLetters with and without key and value', async () => {
    const codec = createDeadLetterCodec(registry, 'memory-dlq');
    const full: DeadLetter = {
      sourceTopic: 'memory-enriched', partition: 2, offset: 99, key: 'evt-1', valueBytes: Buffer.from([1, 2, 3]),
      reason: 'magic byte is 1', code: 'undecodable_record', failedAt: 1_700_000_000_000, attempts: 3,
    };
    const bare: DeadLetter = { sourceTopic: 'memory-events', partition: 0, offset: 0, reason: 'x', code: 'y', failedAt: 0, attempts: 1 };
    assert.deepStrictEqual(await codec.decode(await codec.encode(full)), full);
    assert.deepStrictEqual(await codec.decode(await codec.encode(bare)), bare);
  });
});
