import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLmdbSchemaRegistry } from '@engram/ports';
import { schemaEvolutionContract } from '../contracts/schema-evolution.contract.js';
import { schemaRegistryContract } from '../contracts/schema-registry.contract.js';
import { tempDir } from '../temp-dirs.js';

schemaRegistryContract('lmdb', async () => createLmdbSchemaRegistry({ path: tempDir() }));
schemaEvolutionContract('lmdb', async () => {
  const registry = createLmdbSchemaRegistry({ path: tempDir() });
  return { registry, cleanup: () => registry.close() };
});

const schemaOf = (name: string, fields: unknown[] = [{ name: 'a', type: 'string' }]): string =>
  JSON.stringify({ type: 'record', name, fields });

describe('LMDB schema registry', () => {
  it('numbers ids from 1, one per distinct schema, shared across subjects', async () => {
    const registry = createLmdbSchemaRegistry({ path: tempDir() });
    try {
      const a = await registry.register('a-value', schemaOf('A'));
      const b = await registry.register('b-value', schemaOf('B'));
      const sameAsA = await registry.register('c-value', schemaOf('A'));
      assert.deepEqual([a.id, b.id], [1, 2]);
      assert.deepEqual({ id: sameAsA.id, version: sameAsA.version, subject: sameAsA.subject }, { id: 1, version: 1, subject: 'c-value' });
      // The id keeps the subject it was first registered under.
      assert.equal((await registry.getById(1)).subject, 'a-value');
    } finally {
      await registry.close();
    }
  });

  it('treats docs and formatting as the same schema', async () => {
    const registry = createLmdbSchemaRegistry({ path: tempDir() });
    try {
      const plain = await registry.register('s-value', schemaOf('D'));
      const documented = await registry.register('s-value', JSON.stringify({ type: 'record', name: 'D', doc: 'now documented', fields: [{ name: 'a', type: 'string', doc: 'x' }] }, null, 2));
      assert.deepEqual([documented.id, documented.version], [plain.id, plain.version]);
    } finally {
      await registry.close();
    }
  });

  it('keeps ids and versions across close and reopen, and never reuses an id', async () => {
    const dir = tempDir();
    const first = createLmdbSchemaRegistry({ path: dir });
    const v1 = await first.register('e-value', schemaOf('E'));
    const v2 = await first.register('e-value', schemaOf('E', [{ name: 'a', type: 'string' }, { name: 'b', type: 'int', default: 0 }]));
    await first.close();
    await assert.rejects(first.getById(v1.id), { code: 'registry_closed' });

    const reopened = createLmdbSchemaRegistry({ path: dir });
    try {
      assert.deepEqual(await reopened.getById(v1.id), v1);
      assert.deepEqual(await reopened.getLatest('e-value'), v2);
      assert.deepEqual(await reopened.register('e-value', schemaOf('E')), v1);
      const other = await reopened.register('f-value', schemaOf('F'));
      assert.equal(other.id, 3);
    } finally {
      await reopened.close();
    }
  });

  it('stores self-contained text with defaults and docs', async () => {
    const registry = createLmdbSchemaRegistry({ path: tempDir() });
    try {
      const schema = { type: 'record', name: 'G', namespace: 'x.y', doc: 'd', fields: [{ name: 'n', type: ['null', 'long'], default: null }, { name: 'm', type: { type: 'record', name: 'H', fields: [] } }, { name: 'o', type: 'H' }] };
      const stored = JSON.parse((await registry.register('g-value', JSON.stringify(schema))).schema) as typeof schema;
      assert.equal(stored.doc, 'd');
      assert.deepEqual(stored.fields[0], { name: 'n', type: ['null', 'long'], default: null });
      assert.equal((stored.fields[1]?.type as { name: string }).name, 'x.y.H');
      assert.equal(stored.fields[2]?.type, 'x.y.H');
    } finally {
      await registry.close();
    }
  });

  it('explains an incompatible change', async () => {
    const registry = createLmdbSchemaRegistry({ path: tempDir() });
    try {
      await registry.register('i-value', schemaOf('I'));
      await assert.rejects(registry.register('i-value', schemaOf('I', [{ name: 'a', type: 'string' }, { name: 'b', type: 'int' }])), (error: Error & { code?: string; retriable?: boolean }) => {
        assert.equal(error.code, 'schema_incompatible');
        assert.equal(error.retriable, false);
        assert.match(error.message, /BACKWARD.*version 1 .*i-value/);
        return true;
      });
    } finally {
      await registry.close();
    }
  });
});
