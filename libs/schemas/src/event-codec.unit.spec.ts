import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UnavailableError } from '@engram/core';
import type { MemoryEvent } from '@engram/core';
import { createLmdbSchemaRegistry } from '@engram/ports';
import type { SchemaRegistry } from '@engram/ports';
import { createDeadLetterCodec, createEventCodec, createMemoryEventCodec, loadSchema, memoryEventToAvro } from './index.js';

const written: MemoryEvent = {
  type: 'MemoryWritten',
  eventId: 'evt-1',
  tenant: 'acme',
  namespace: 'agents/planner',
  key: 'plan',
  actor: 'planner',
  hlc: 1_700_000_000_000 * 4096,
  text: 'the plan for today',
  metadata: { agentId: 'planner', tags: ['a'], attributes: { step: 3 } },
  value: { steps: ['x', 'y'] },
};

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: { code?: string; retriable?: boolean }) => {
    assert.equal(error.code, code, String(error));
    if (code === 'undecodable_record') assert.equal(error.retriable, false);
    return true;
  });
}

describe('event codec', () => {
  let dir: string;
  let registry: SchemaRegistry;
  let topicCount = 0;
  const topic = (): string => `topic-${++topicCount}`;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-'));
    registry = createLmdbSchemaRegistry({ path: dir });
  });
  after(async () => {
    await registry.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes magic byte 0, the big-endian schema id, then plain Avro binary', async () => {
    await registry.register('unrelated-value', '"string"'); // so ids do not start at 1 by accident
    const codec = createMemoryEventCodec(registry, topic());
    const buf = await codec.encode(written);
    const latest = await registry.getLatest(codec.subject);
    assert.equal(codec.subject, `topic-${topicCount}-value`);
    assert.equal(latest?.id, 2);
    assert.equal(buf[0], 0);
    assert.deepEqual([...buf.subarray(1, 5)], [0, 0, 0, 2]);
    assert.deepEqual(buf.subarray(5), loadSchema('memory-event').type.toBuffer(memoryEventToAvro(written)));
    assert.equal(await codec.ready(), 2);
  });

  it('encodes values larger than its scratch buffer', async () => {
    const codec = createMemoryEventCodec(registry, topic());
    const big: MemoryEvent = { ...written, value: 'x'.repeat(50_000), text: 'y'.repeat(20_000) };
    await codec.ready();
    assert.deepStrictEqual(codec.decodeSync(codec.encodeSync(big)), big);
    assert.deepStrictEqual(codec.decodeSync(codec.encodeSync(written)), written);
  });

  it('needs ready() before encodeSync, and a known writer schema for decodeSync', async () => {
    const name = topic();
    const writer = createMemoryEventCodec(registry, name);
    const reader = createMemoryEventCodec(registry, name);
    assert.throws(() => writer.encodeSync(written), { code: 'codec_not_ready' });
    const buf = await writer.encode(written);
    assert.throws(() => reader.decodeSync(buf), { code: 'writer_schema_not_loaded' });
    assert.deepStrictEqual(await reader.decode(buf), written);
    assert.deepStrictEqual(reader.decodeSync(buf), written);
  });

  it('refuses a value that does not fit the schema with unencodable_record', async () => {
    const codec = createMemoryEventCodec(registry, topic());
    await rejectsWithCode(codec.encode({ ...written, hlc: 1.5 }), 'unencodable_record');
    await rejectsWithCode(codec.encode({ ...written, value: undefined } as unknown as MemoryEvent), 'unencodable_record');
  });

  it('refuses undecodable input with undecodable_record', async () => {
    const codec = createMemoryEventCodec(registry, topic());
    const good = await codec.encode(written);
    const withId = (id: number, body: Buffer): Buffer => {
      const header = Buffer.alloc(5);
      header.writeInt32BE(id, 1);
      return Buffer.concat([header, body]);
    };
    const payloadAt = good.length - 2 - Buffer.byteLength(JSON.stringify(written.value));
    const badUnion = Buffer.from(good);
    badUnion[payloadAt] = 0x7e; // branch 63 of 6
    const cases: [Buffer, RegExp][] = [
      [Buffer.alloc(0), /shorter than the wire-format header/],
      [good.subarray(0, 3), /shorter than the wire-format header/],
      [Buffer.concat([Buffer.from([1]), good.subarray(1)]), /magic byte is 1/],
      [withId(9999, good.subarray(5)), /schema id 9999 is unknown/],
      [good.subarray(0, good.length - 1), /truncated/],
      [Buffer.concat([good, Buffer.from([0])]), /1 bytes of trailing data/],
      [good.subarray(0, 5), /truncated/],
      [badUnion, /invalid union index/],
    ];
    for (const [buf, message] of cases) {
      await assert.rejects(codec.decode(buf), { code: 'undecodable_record', message });
    }
    // A record of another subject's schema cannot be read as a MemoryEvent.
    const letters = createDeadLetterCodec(registry, topic());
    const letter = await letters.encode({ sourceTopic: 't', partition: 0, offset: 1, reason: 'r', code: 'c', failedAt: 1, attempts: 1 });
    await rejectsWithCode(codec.decode(letter), 'undecodable_record');
    // Valid Avro whose JSON text is not JSON.
    const raw = createEventCodec(registry, { topic: codec.subject.replace(/-value$/, ''), schema: 'memory-event' });
    const notJson = await raw.encode({ ...memoryEventToAvro(written), payload: { 'dev.engram.v1.MemoryWritten': { valueJson: '{' } } });
    await rejectsWithCode(codec.decode(notJson), 'undecodable_record');
  });

  it('lets a registry outage through as retriable instead of calling the record undecodable', async () => {
    const good = await createMemoryEventCodec(registry, topic()).encode(written);
    const down: SchemaRegistry = {
      register: () => Promise.reject(new UnavailableError('registry_unavailable', 'down')),
      getById: () => Promise.reject(new UnavailableError('registry_unavailable', 'down')),
      getLatest: () => Promise.reject(new UnavailableError('registry_unavailable', 'down')),
      close: () => Promise.resolve(),
    };
    const codec = createMemoryEventCodec(down, 'memory-events');
    await assert.rejects(codec.decode(good), { code: 'registry_unavailable', retriable: true });
    await assert.rejects(codec.ready(), { code: 'registry_unavailable' });
    // Once the registry is back, the same codec works.
    const back = createMemoryEventCodec(registry, 'memory-events');
    assert.deepStrictEqual(await back.decode(good), written);
  });

  it('fetches an unknown writer schema once for concurrent decodes', async () => {
    const good = await createMemoryEventCodec(registry, topic()).encode(written);
    let fetches = 0;
    const counting: SchemaRegistry = { ...registry, getById: (id) => (fetches++, registry.getById(id)) };
    const codec = createMemoryEventCodec(counting, 'memory-events');
    const decoded = await Promise.all([codec.decode(good), codec.decode(good), codec.decode(good)]);
    assert.equal(decoded.length, 3);
    assert.equal(fetches, 1);
  });
});
