/**
 * The Confluent-API SchemaRegistry against a real registry (Apicurio's ccompat API in dev, set by
 * ENGRAM_SCHEMA_REGISTRY_URL): the shared contract, then what only a remote registry can show —
 * compatibility enforced by the registry itself, and ids that are the registry's own. The registry
 * is shared and persistent, so every subject and record name is unique per run; the subjects these
 * tests create are deleted afterwards (the contract's are left, see its header).
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import avro from 'avsc';
import { SchemaRegistry as KafkaJsRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { schemaEvolutionContract, schemaRegistryContract, withEngine } from '@engram/testing';
import type { SchemaRegistry } from '@engram/ports';
import { createConfluentSchemaRegistry } from './confluent-schema-registry.js';

const SETTING = 'ENGRAM_SCHEMA_REGISTRY_URL';

withEngine('SchemaRegistry contract: confluent API', 'schema registry', SETTING, (url) => {
  schemaRegistryContract('confluent API', async () => createConfluentSchemaRegistry({ url }));
  schemaEvolutionContract('confluent API', async () => {
    const registry = createConfluentSchemaRegistry({ url });
    return { registry, cleanup: () => registry.close() };
  });
});

withEngine('Confluent-API schema registry adapter', 'schema registry', SETTING, (url) => {
  describe('Confluent-API schema registry adapter', () => {
    const run = randomUUID().replaceAll('-', '').slice(0, 12);
    const subjects: string[] = [];
    const registries: SchemaRegistry[] = [];
    let counter = 0;
    const fresh = (): { subject: string; record: string } => {
      counter += 1;
      const subject = `adapter-${run}-${counter}-value`;
      subjects.push(subject);
      return { subject, record: `A${run}n${counter}` };
    };
    const open = (): SchemaRegistry => {
      const registry = createConfluentSchemaRegistry({ url, requestTimeoutMs: 5000 });
      registries.push(registry);
      return registry;
    };
    const schema = (record: string, fields: { name: string; type: string; default?: unknown }[]): string =>
      JSON.stringify({ type: 'record', name: record, namespace: 'dev.engram.adapter', fields });
    const v1 = (record: string): string => schema(record, [{ name: 'id', type: 'string' }]);
    /** The registry's REST API, bypassing the adapter. */
    const rest = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> => {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(5000),
      });
      const text = await response.text();
      return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
    };
    const compatibilityOf = async (subject: string): Promise<unknown> =>
      ((await rest('GET', `/config/${subject}`)).body as { compatibilityLevel?: unknown }).compatibilityLevel;

    after(async () => {
      await Promise.all(registries.map((r) => r.close()));
      for (const subject of subjects) {
        await rest('DELETE', `/subjects/${subject}`).catch(() => undefined);
        await rest('DELETE', `/subjects/${subject}?permanent=true`).catch(() => undefined);
      }
    });

    it('sets the subject to BACKWARD at its first registration', async () => {
      const { subject, record } = fresh();
      await open().register(subject, v1(record));
      assert.equal(await compatibilityOf(subject), 'BACKWARD');
    });

    it('raises a subject left at NONE to BACKWARD, and a new field without a default is refused with schema_incompatible naming the subject', async () => {
      const { subject, record } = fresh();
      // Registered by someone else with checks off. (Apicurio 3.0.9 only drops the subject's rule on
      // NONE, so its global rule would still apply; a Confluent registry really stops checking.)
      assert.equal((await rest('POST', `/subjects/${subject}/versions`, { schema: v1(record) })).status, 200);
      assert.equal((await rest('PUT', `/config/${subject}`, { compatibility: 'NONE' })).status, 200);
      const breaking = schema(record, [{ name: 'id', type: 'string' }, { name: 'label', type: 'string' }]);
      await assert.rejects(open().register(subject, breaking), (error: Error & { code?: string; retriable?: boolean }) => {
        assert.equal(error.code, 'schema_incompatible');
        assert.equal(error.retriable, false);
        assert.match(error.message, new RegExp(`subject ${subject}\\b`));
        return true;
      });
      assert.equal(await compatibilityOf(subject), 'BACKWARD');
      assert.deepEqual((await rest('GET', `/subjects/${subject}/versions`)).body, [1]);
    });

    it('keeps a stricter subject setting', async () => {
      const { subject, record } = fresh();
      assert.equal((await rest('PUT', `/config/${subject}`, { compatibility: 'FULL_TRANSITIVE' })).status, 200);
      const registry = open();
      await registry.register(subject, v1(record));
      const v2 = await registry.register(subject, schema(record, [{ name: 'id', type: 'string' }, { name: 'n', type: 'long', default: 0 }]));
      assert.equal(v2.version, 2);
      assert.equal(await compatibilityOf(subject), 'FULL_TRANSITIVE');
    });

    it('answers the ids and versions the REST API shows, and the same id to a second client', async () => {
      const { subject, record } = fresh();
      const first = await open().register(subject, v1(record));
      // A separate instance has no cache: the registry itself recognises the schema.
      const second = await open().register(subject, JSON.stringify(JSON.parse(v1(record)), null, 2));
      assert.deepEqual([second.id, second.version], [first.id, first.version]);
      const latest = (await rest('GET', `/subjects/${subject}/versions/latest`)).body as { id: number; version: number; schema: string };
      assert.deepEqual([latest.id, latest.version], [first.id, first.version]);
      assert.equal(latest.schema, first.schema);
      const byId = (await rest('GET', `/schemas/ids/${first.id}`)).body as { schema: string };
      assert.equal(byId.schema, (await open().getById(first.id)).schema);
    });

    it('writes the Confluent wire format that @kafkajs/confluent-schema-registry reads with the same id', async () => {
      const { subject, record } = fresh();
      const registry = open();
      const registered = await registry.register(subject, v1(record));
      const kafkajs = new KafkaJsRegistry({ host: url, retry: { retries: 0 } });
      assert.equal(await kafkajs.getRegistryIdBySchema(subject, { type: SchemaType.AVRO, schema: registered.schema }), registered.id);
      const message = await kafkajs.encode(registered.id, { id: 'x-1' });
      assert.equal(message.readUInt8(0), 0);
      assert.equal(message.readInt32BE(1), registered.id);
      const type = avro.Type.forSchema(JSON.parse((await registry.getById(registered.id)).schema) as avro.Schema);
      assert.deepEqual({ ...(type.fromBuffer(message.subarray(5)) as object) }, { id: 'x-1' });
    });
  });
});
