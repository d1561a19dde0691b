import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLmdbKvStore } from '@engram/ports';
import { kvStoreContract } from '../contracts/kv-store.contract.js';

const tempDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'engram-'));

kvStoreContract('LmdbKvStore', async () => {
  const dir = tempDir();
  const kv = createLmdbKvStore({ path: dir });
  return {
    kv,
    cleanup: async () => {
      await kv.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('LmdbKvStore', () => {
  it('keeps committed batches across a reopen', async () => {
    const dir = tempDir();
    try {
      const kv = createLmdbKvStore({ path: dir });
      await kv.batch([{ type: 'put', key: 'a\u0000b', value: Buffer.from('nul inside') }, { type: 'put', key: 'k', value: Buffer.alloc(0) }]);
      await kv.close();
      const again = createLmdbKvStore({ path: dir });
      assert.equal((await again.get('a\u0000b'))?.toString(), 'nul inside');
      assert.equal((await again.get('k'))?.length, 0);
      assert.deepEqual((await again.scan({ prefix: 'a' })).entries.map((e) => e.key), ['a\u0000b']);
      await again.close();
      await assert.rejects(again.get('k'), { code: 'kv_closed' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects keys LMDB cannot store, with stable codes, and stores nothing of their batch', async () => {
    const dir = tempDir();
    const kv = createLmdbKvStore({ path: dir });
    try {
      const ok = { type: 'put', key: 'fine', value: Buffer.from('x') } as const;
      await assert.rejects(kv.batch([ok, { type: 'put', key: '', value: Buffer.from('x') }]), { code: 'invalid_key' });
      await assert.rejects(kv.batch([ok, { type: 'put', key: 'half \ud800', value: Buffer.from('x') }]), { code: 'invalid_key' });
      await assert.rejects(kv.batch([ok, { type: 'del', key: 'é'.repeat(1000) }]), { code: 'limit_exceeded' });
      await assert.rejects(kv.scan({ prefix: '', limit: 0 }), { code: 'invalid_limit' });
      assert.equal(await kv.get('fine'), undefined);
      // A well-formed astral character is fine (its surrogates are paired).
      await kv.batch([{ type: 'put', key: '😀', value: Buffer.from('smile') }]);
      assert.equal((await kv.get('😀'))?.toString(), 'smile');
    } finally {
      await kv.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('scans the whole store with an empty prefix, in byte order both ways', async () => {
    const dir = tempDir();
    const kv = createLmdbKvStore({ path: dir });
    try {
      const keys = ['\u00ff', 'b', 'a|b', '\u{10ffff}', 'A'];
      await kv.batch(keys.map((key) => ({ type: 'put', key, value: Buffer.from(key) })));
      const sorted = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      assert.deepEqual((await kv.scan({ prefix: '' })).entries.map((e) => e.key), sorted);
      const page = await kv.scan({ prefix: '', reverse: true, limit: 2 });
      assert.deepEqual(page.entries.map((e) => e.key), sorted.slice(-2).reverse());
      assert.equal(page.cursor, sorted[sorted.length - 2]);
    } finally {
      await kv.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
