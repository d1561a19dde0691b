/**
 * The SchemaRegistry contract: the same assertions for every implementation (embedded LMDB, a
 * Confluent-API registry). Subjects and record names are unique per run, so the suite also runs
 * against a shared, long-lived remote registry; it therefore asserts nothing about absolute id values.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { SchemaRegistry } from '@engram/ports';

/** Makes a fresh registry; the suite closes it. */
export type SchemaRegistryFactory = () => Promise<SchemaRegistry>;

interface Field {
  name: string;
  type: unknown;
  default?: unknown;
}

/** A record schema as text; `name` is made unique per run by the caller. */
function recordSchema(name: string, fields: Field[], space = 0): string {
  return JSON.stringify({ type: 'record', name, namespace: 'dev.engram.contract', fields }, null, space);
}

function parsed(text: string): { fullName: string; fields: Field[] } {
  const schema = JSON.parse(text) as { name: string; namespace?: string; fields: Field[] };
  // Registries may answer with `name` fully qualified or with a separate `namespace`.
  const fullName = schema.name.includes('.') || schema.namespace === undefined ? schema.name : `${schema.namespace}.${schema.name}`;
  return { fullName, fields: schema.fields };
}

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal((error as { code?: unknown }).code, code, `expected code ${code}, got ${String(error)}`);
    return true;
  });
}

export function schemaRegistryContract(name: string, factory: SchemaRegistryFactory): void {
  describe(`SchemaRegistry contract: ${name}`, () => {
    let registry: SchemaRegistry;
    const run = randomUUID().replaceAll('-', '').slice(0, 12);
    let counter = 0;
    /** A subject and a record name nobody used before. */
    const fresh = (): { subject: string; record: string } => {
      counter += 1;
      return { subject: `contract-${run}-${counter}-value`, record: `R${run}n${counter}` };
    };
    const v1Fields: Field[] = [
      { name: 'id', type: 'string' },
      { name: 'count', type: 'long' },
    ];

    before(async () => {
      registry = await factory();
    });
    after(async () => {
      await registry.close();
    });

    it('registers a first version with a positive integer id', async () => {
      const { subject, record } = fresh();
      const registered = await registry.register(subject, recordSchema(record, v1Fields));
      assert.ok(Number.isSafeInteger(registered.id) && registered.id > 0, `id ${registered.id}`);
      assert.equal(registered.subject, subject);
      assert.equal(registered.version, 1);
      assert.equal(parsed(registered.schema).fields.length, 2);
    });

    it('returns the same id and version for the same schema, however it is formatted', async () => {
      const { subject, record } = fresh();
      const first = await registry.register(subject, recordSchema(record, v1Fields));
      const again = await registry.register(subject, recordSchema(record, v1Fields));
      const pretty = await registry.register(subject, recordSchema(record, v1Fields, 2));
      assert.deepEqual([again.id, again.version], [first.id, first.version]);
      assert.deepEqual([pretty.id, pretty.version], [first.id, first.version]);
    });

    it('gives distinct schemas distinct ids', async () => {
      const a = fresh();
      const b = fresh();
      const first = await registry.register(a.subject, recordSchema(a.record, v1Fields));
      const second = await registry.register(b.subject, recordSchema(b.record, v1Fields));
      assert.notEqual(first.id, second.id);
    });

    it('adds versions in order for BACKWARD-compatible changes, and getLatest follows', async () => {
      const { subject, record } = fresh();
      const v1 = await registry.register(subject, recordSchema(record, v1Fields));
      const v2 = await registry.register(subject, recordSchema(record, [...v1Fields, { name: 'label', type: 'string', default: '' }]));
      // Removing a field is BACKWARD compatible too: the new reader ignores it.
      const v3 = await registry.register(subject, recordSchema(record, [{ name: 'id', type: 'string' }, { name: 'label', type: 'string', default: '' }]));
      assert.deepEqual([v1.version, v2.version, v3.version], [1, 2, 3]);
      assert.equal(new Set([v1.id, v2.id, v3.id]).size, 3);
      const latest = await registry.getLatest(subject);
      assert.deepEqual(latest && { id: latest.id, version: latest.version, subject: latest.subject }, { id: v3.id, version: 3, subject });
      // Registering an older version again finds it instead of adding one (e.g. an old build restarts).
      const old = await registry.register(subject, recordSchema(record, v1Fields));
      assert.deepEqual([old.id, old.version], [v1.id, 1]);
    });

    it('refuses a new field without a default with schema_incompatible and keeps the latest', async () => {
      const { subject, record } = fresh();
      const v1 = await registry.register(subject, recordSchema(record, v1Fields));
      await rejectsWithCode(registry.register(subject, recordSchema(record, [...v1Fields, { name: 'label', type: 'string' }])), 'schema_incompatible');
      assert.equal((await registry.getLatest(subject))?.id, v1.id);
    });

    it('refuses a changed field type with schema_incompatible', async () => {
      const { subject, record } = fresh();
      await registry.register(subject, recordSchema(record, v1Fields));
      await rejectsWithCode(registry.register(subject, recordSchema(record, [{ name: 'id', type: 'string' }, { name: 'count', type: 'string' }])), 'schema_incompatible');
      // Promotion int -> long is allowed the other way only: long data cannot be read as int.
      await rejectsWithCode(registry.register(subject, recordSchema(record, [{ name: 'id', type: 'string' }, { name: 'count', type: 'int' }])), 'schema_incompatible');
    });

    it('refuses text that is not an Avro schema with schema_invalid', async () => {
      const { subject } = fresh();
      await rejectsWithCode(registry.register(subject, '{"type":"record","name":"X","fields":[{"name":"a","type":"nope"}]}'), 'schema_invalid');
      await rejectsWithCode(registry.register(subject, 'not json'), 'schema_invalid');
      assert.equal(await registry.getLatest(subject), undefined);
    });

    it('gets a schema by id, and refuses an unknown id with schema_not_found', async () => {
      const { subject, record } = fresh();
      const registered = await registry.register(subject, recordSchema(record, v1Fields));
      const byId = await registry.getById(registered.id);
      assert.equal(byId.id, registered.id);
      assert.equal(parsed(byId.schema).fullName, `dev.engram.contract.${record}`);
      assert.deepEqual(parsed(byId.schema).fields.map((f) => f.name), ['id', 'count']);
      await rejectsWithCode(registry.getById(2 ** 31 - 1), 'schema_not_found');
    });

    it('answers undefined for the latest of an unknown subject', async () => {
      assert.equal(await registry.getLatest(fresh().subject), undefined);
    });
  });
}
