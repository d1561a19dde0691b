/**
 * Schema evolution through a registry, with Engram's real event codec: a new field with a default
 * keeps old records readable (and old readers read new records), and an incompatible change is
 * refused with `schema_incompatible`, leaving the subject as it was. Runs against the embedded
 * registry and a Confluent-API registry alike; topic names are unique per run.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { MemoryEvent } from '@engram/core';
import type { SchemaRegistry } from '@engram/ports';
import { createEventCodec, createMemoryEventCodec, loadSchema, memoryEventToAvro, type AvroSchemaJson } from '@engram/schemas';

/** A registry for the suite; `cleanup` closes it (and removes what the factory created). */
export type EvolvingRegistryFactory = () => Promise<{ registry: SchemaRegistry; cleanup: () => Promise<void> }>;

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

/** memory-event.avsc with one more top-level field. */
function memoryEventWith(field: Record<string, unknown>): AvroSchemaJson {
  const schema = structuredClone(loadSchema('memory-event').json) as { fields: unknown[] };
  schema.fields.push(field);
  return schema as AvroSchemaJson;
}

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: { code?: string }) => {
    assert.equal(error.code, code, String(error));
    return true;
  });
}

export function schemaEvolutionContract(name: string, factory: EvolvingRegistryFactory): void {
  describe(`schema evolution: ${name}`, () => {
    let registry: SchemaRegistry;
    let cleanup: () => Promise<void>;
    const run = randomBytes(4).toString('hex');
    let count = 0;
    const topic = (): string => `evolution-${run}-${++count}`;
    before(async () => {
      ({ registry, cleanup } = await factory());
    });
    after(() => cleanup());

    it('reads records of an older version with a newer reader, filling defaults', async () => {
      const t = topic();
      const v1 = createMemoryEventCodec(registry, t);
      const old = await v1.encode(written);
      const v2 = createEventCodec<{ priority: number; eventId: string; payload: unknown }>(registry, {
        topic: t,
        schema: memoryEventWith({ name: 'priority', type: 'int', default: 7, doc: 'added in v2' }),
      });
      const v2Id = await v2.ready();
      assert.notEqual(v2Id, await v1.ready());
      assert.equal((await registry.getLatest(v2.subject))?.version, 2);
      const decoded = await v2.decode(old);
      assert.equal(decoded.priority, 7);
      assert.equal(decoded.eventId, 'evt-1');
      assert.deepEqual(JSON.parse(JSON.stringify(decoded.payload)), { 'dev.engram.v1.MemoryWritten': { valueJson: '{"steps":["x","y"]}' } });
      // The old typed reader still reads new records too (it skips the field it does not know).
      const fresh = await v2.encode({ ...memoryEventToAvro(written), priority: 1 } as never);
      assert.deepStrictEqual(await v1.decode(fresh), written);
    });

    it('refuses incompatible evolutions with schema_incompatible', async () => {
      const t = topic();
      await createMemoryEventCodec(registry, t).ready();
      const withoutDefault = createEventCodec(registry, { topic: t, schema: memoryEventWith({ name: 'priority', type: 'int' }) });
      await rejectsWithCode(withoutDefault.ready(), 'schema_incompatible');
      const changedType = structuredClone(loadSchema('memory-event').json) as { fields: { name: string; type: unknown }[] };
      changedType.fields = changedType.fields.map((f) => (f.name === 'hlc' ? { ...f, type: 'string' } : f));
      await rejectsWithCode(createEventCodec(registry, { topic: t, schema: changedType as AvroSchemaJson }).ready(), 'schema_incompatible');
      assert.equal((await registry.getLatest(`${t}-value`))?.version, 1);
    });
  });
}
