import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createFsBlobStore } from '@engram/ports';
import { blobStoreContract } from '../contracts/blob-store.contract.js';
import { tempDir } from '../temp-dirs.js';


blobStoreContract('local directory', async () => createFsBlobStore({ root: tempDir() }));

describe('local directory blob store', () => {
  it('stores objects as plain files under the root and leaves no temp files', async () => {
    const root = tempDir();
    const store = createFsBlobStore({ root });
    await store.put('archive/2024/segment.avro', Buffer.from('bytes'));
    await store.put('archive/2024/segment.avro', Buffer.from('bytes v2'));
    assert.equal(fs.readFileSync(path.join(root, 'archive', '2024', 'segment.avro'), 'utf8'), 'bytes v2');
    assert.deepEqual(fs.readdirSync(path.join(root, '.staging')), []);
    assert.deepEqual(await store.list(''), ['archive/2024/segment.avro'], 'the staging folder is not listed');
    await store.close();
  });

  it('reports a path that collides with a folder or an object', async () => {
    const store = createFsBlobStore({ root: tempDir() });
    await store.put('a/b', Buffer.from('x'));
    await assert.rejects(store.put('a', Buffer.from('y')), { code: 'blob_path_conflict' });
    await assert.rejects(store.put('a/b/c', Buffer.from('y')), { code: 'blob_path_conflict' });
    assert.equal(await store.get('a'), undefined, 'a folder is not an object');
    await store.delete('a');
    assert.equal((await store.get('a/b'))?.toString(), 'x');
    await store.close();
  });

  it('reserves the staging folder name and refuses use after close', async () => {
    const store = createFsBlobStore({ root: tempDir() });
    await assert.rejects(store.put('.staging/x', Buffer.from('x')), { code: 'invalid_blob_path' });
    await store.close();
    await assert.rejects(store.get('x'), { code: 'blob_store_closed' });
  });
});
