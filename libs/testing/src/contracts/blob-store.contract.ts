/**
 * The BlobStore contract: the same assertions for every implementation (local directory, GCS).
 * Every path lies under a folder unique to the run, so the suite also runs against a shared bucket.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { BlobStore } from '@engram/ports';

/** Makes a fresh store; the suite closes it. */
export type BlobStoreFactory = () => Promise<BlobStore>;

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal((error as { code?: unknown }).code, code, `expected code ${code}, got ${String(error)}`);
    return true;
  });
}

export function blobStoreContract(name: string, factory: BlobStoreFactory): void {
  describe(`BlobStore contract: ${name}`, () => {
    let store: BlobStore;
    const run = `contract-${randomBytes(4).toString('hex')}`;
    let counter = 0;
    /** A folder nobody used before. */
    const folder = (): string => `${run}/${++counter}`;

    before(async () => {
      store = await factory();
    });
    after(async () => {
      await store.close();
    });

    it('returns what was put, byte for byte, and nothing for a missing path', async () => {
      const dir = folder();
      const data = randomBytes(70_000);
      await store.put(`${dir}/segment-0001.avro`, data, { contentType: 'application/octet-stream' });
      assert.ok((await store.get(`${dir}/segment-0001.avro`))?.equals(data));
      assert.equal(await store.get(`${dir}/missing`), undefined);
      await store.put(`${dir}/empty`, Buffer.alloc(0));
      assert.equal((await store.get(`${dir}/empty`))?.length, 0);
    });

    it('replaces an object on a second put', async () => {
      const path = `${folder()}/manifest.json`;
      await store.put(path, Buffer.from('{"v":1}'));
      await store.put(path, Buffer.from('{"v":2}'));
      assert.equal((await store.get(path))?.toString(), '{"v":2}');
    });

    it('lists every path under a string prefix, recursively and sorted', async () => {
      const dir = folder();
      const paths = ['b/2', 'a/1', 'a/b/c/deep', 'ab/x', 'a/0', 'é/utf8', 'Z'];
      for (const p of paths) await store.put(`${dir}/${p}`, Buffer.from(p));
      assert.deepEqual(await store.list(`${dir}/`), ['Z', 'a/0', 'a/1', 'a/b/c/deep', 'ab/x', 'b/2', 'é/utf8'].map((p) => `${dir}/${p}`));
      assert.deepEqual(await store.list(`${dir}/a/`), [`${dir}/a/0`, `${dir}/a/1`, `${dir}/a/b/c/deep`]);
      assert.deepEqual(await store.list(`${dir}/a`), [`${dir}/a/0`, `${dir}/a/1`, `${dir}/a/b/c/deep`, `${dir}/ab/x`], 'a prefix need not end at a slash');
      assert.deepEqual(await store.list(`${dir}/nothing-here/`), []);
    });

    it('deletes an object; deleting a missing one is not an error', async () => {
      const dir = folder();
      await store.put(`${dir}/x`, Buffer.from('x'));
      await store.put(`${dir}/y`, Buffer.from('y'));
      await store.delete(`${dir}/x`);
      assert.equal(await store.get(`${dir}/x`), undefined);
      assert.deepEqual(await store.list(`${dir}/`), [`${dir}/y`]);
      await store.delete(`${dir}/x`);
      await store.delete(`${dir}/never/was`);
    });

    it('never exposes a torn object when puts race', async () => {
      const path = `${folder()}/raced`;
      const versions = Array.from({ length: 4 }, (_, i) => Buffer.alloc(200_000, i + 1));
      await Promise.all(versions.map((v) => store.put(path, v)));
      const stored = await store.get(path);
      assert.ok(versions.some((v) => stored?.equals(v)), 'the object is one of the writes, whole');
    });

    it('refuses paths that are not plain relative paths', async () => {
      for (const bad of ['', '/abs', '../up', 'a/../b', 'a/./b', 'a//b', 'a/', '.']) {
        await rejectsWithCode(store.put(bad, Buffer.from('x')), 'invalid_blob_path');
        await rejectsWithCode(store.get(bad), 'invalid_blob_path');
      }
      await rejectsWithCode(store.list('../'), 'invalid_blob_path');
    });
  });
}
