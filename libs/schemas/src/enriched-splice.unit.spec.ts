import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { EngramError, type EnrichedEvent, type MemoryEvent } from '@engram/core';
import { createLmdbSchemaRegistry, type SchemaRegistry } from '@engram/ports';
import {
  createEnrichedEventCodec,
  createEventCodec,
  createMemoryEventCodec,
  createSequencerCodec,
  loadSchema,
  memoryEventToAvro,
  type AvroSchemaJson,
  type EnrichmentFields,
  type EventCodec,
  type SequencerCodec,
} from './index.js';
import { eventArb, expectedAfterTrip } from './memory-event.spec-helper.js';

const fieldsArb: fc.Arbitrary<EnrichmentFields> = fc.record(
  {
    source: fc.record({ partition: fc.nat(63), offset: fc.maxSafeNat() }, { noNullPrototype: true }),
    embeddings: fc.array(
      fc.record({
        modality: fc.constantFrom('text', 'image'),
        model: fc.string({ minLength: 1, maxLength: 12 }),
        revision: fc.string({ maxLength: 6 }),
        vector: fc.array(fc.float({ noNaN: true }), { maxLength: 8 }).map((v) => new Float32Array(v)),
      }, { noNullPrototype: true }).map((e) => ({ ...e, dims: e.vector.length })),
      { maxLength: 2 },
    ),
    enrichmentError: fc.string({ minLength: 1, maxLength: 20 }),
  },
  { requiredKeys: ['source', 'embeddings'], noNullPrototype: true },
);

describe('sequencer codec (memory-events in, memory-enriched out, the event spliced)', () => {
  let dir: string;
  let registry: SchemaRegistry;
  let events: EventCodec<MemoryEvent>;
  let enriched: EventCodec<EnrichedEvent>;
  let sequencer: SequencerCodec;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-'));
    registry = createLmdbSchemaRegistry({ path: dir });
    events = createMemoryEventCodec(registry, 'memory-events');
    enriched = createEnrichedEventCodec(registry, 'memory-enriched');
    await events.ready();
    await enriched.ready();
    // An event written with the reader schema is never decoded into a MemoryEvent, nor the enriched
    // value encoded from one: those paths throw here, so the tests below see only the splice.
    const noDecode = { ...events, decode: () => Promise.reject(new Error('decoded')) };
    const noEncode = { ...enriched, encodeSync: () => assert.fail('encoded') };
    sequencer = createSequencerCodec(noDecode, noEncode);
  });
  after(async () => {
    await registry.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes exactly the bytes of a full encode, which decode to the event with its fields', async () => {
    await fc.assert(
      fc.asyncProperty(eventArb, fieldsArb, async (event, fields) => {
        const read = await sequencer.read(events.encodeSync(event));
        assert.equal(read.type, event.type);
        assert.equal(read.text, event.text);
        assert.deepStrictEqual(read.vectors, event.vectors);
        const spliced = sequencer.enriched(read, fields);
        assert.ok(spliced.equals(enriched.encodeSync({ ...fields, event })), 'byte for byte');
        assert.deepStrictEqual(await enriched.decode(spliced), { ...fields, event: expectedAfterTrip(event) });
      }),
      { numRuns: 200 },
    );
  });

  it('decodes and re-encodes an event written with another schema', async () => {
    // A later MemoryEvent with one more field: the sequencer's reader resolves it, and must not
    // pass its bytes on under the enriched schema, which nests the MemoryEvent it knows.
    const base = loadSchema('memory-event').json as { fields: unknown[] } & AvroSchemaJson;
    const later = { ...base, fields: [...base.fields, { name: 'priority', type: 'int', default: 0 }] };
    const writer = createEventCodec<MemoryEvent>(registry, { topic: 'memory-events-later', schema: later, toAvro: (e) => ({ ...memoryEventToAvro(e), priority: 7 }) });
    const event: MemoryEvent = { type: 'MemoryWritten', value: { a: [1, 'two'] }, text: 'later', eventId: 'e-1', tenant: 't', namespace: 'n', key: 'k', actor: 'a', hlc: 5, metadata: { tags: [], attributes: {} } };
    const value = await writer.encode(event);
    assert.notEqual(value.readInt32BE(1), await events.ready(), 'written under another schema id');

    const full = createSequencerCodec(events, enriched);
    const read = await full.read(value);
    assert.equal(read.text, 'later');
    const fields: EnrichmentFields = { source: { partition: 1, offset: 9 }, embeddings: [] };
    const out = full.enriched(read, fields);
    assert.deepStrictEqual(await enriched.decode(out), { ...fields, event });
    await assert.rejects(sequencer.read(value), /decoded/, 'the splicing path is not taken for it');
    assert.ok(out.equals(enriched.encodeSync({ ...fields, event })));
  });

  it('refuses bytes that are not a memory-events value with undecodable_record', async () => {
    const good = events.encodeSync({ type: 'MemoryDeleted', eventId: 'e', tenant: 't', namespace: 'n', key: 'k', actor: 'a', hlc: 1, metadata: { tags: [], attributes: {} } });
    for (const bad of [Buffer.from('not avro'), good.subarray(0, good.length - 2), Buffer.concat([good, Buffer.from([0])])]) {
      await assert.rejects(sequencer.read(bad), (error: unknown) => error instanceof EngramError && error.code === 'undecodable_record');
    }
  });
});
