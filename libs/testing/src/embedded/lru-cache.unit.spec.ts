import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLruCache } from '@engram/ports';
import { cacheContract } from '../contracts/cache.contract.js';

cacheContract('in-process LRU', async () => createLruCache());

describe('in-process LRU cache', () => {
  it('evicts the least recently used entry beyond maxEntries', async () => {
    const cache = createLruCache({ maxEntries: 2 });
    await cache.set('a', { value: Buffer.from('a'), version: 1 });
    await cache.set('b', { value: Buffer.from('b'), version: 1 });
    await cache.get('a');
    await cache.set('c', { value: Buffer.from('c'), version: 1 });
    assert.equal(await cache.get('b'), undefined, 'b was the least recently used');
    assert.equal((await cache.get('a'))?.value.toString(), 'a');
    assert.equal((await cache.get('c'))?.value.toString(), 'c');
    await cache.close();
  });

  it('stays within maxBytes, and drops an older entry when its newer version is too large to keep', async () => {
    const cache = createLruCache({ maxBytes: 4096 });
    for (let i = 0; i < 10; i++) await cache.set(`k${i}`, { value: Buffer.alloc(1000, i), version: 1 });
    const kept = (await Promise.all(Array.from({ length: 10 }, (_, i) => cache.get(`k${i}`)))).filter((e) => e !== undefined);
    assert.ok(kept.length >= 1 && kept.length <= 4, `kept ${kept.length} entries of ~1 KB in 4 KB`);
    assert.ok(await cache.get('k9'), 'the most recent entry is kept');
    await cache.set('k9', { value: Buffer.alloc(10_000), version: 2 });
    assert.equal(await cache.get('k9'), undefined, 'no stale version 1 is served');
    await cache.close();
  });

  it('does not count a version check as a use', async () => {
    const cache = createLruCache({ maxEntries: 2 });
    await cache.set('a', { value: Buffer.from('a'), version: 5 });
    await cache.set('b', { value: Buffer.from('b'), version: 1 });
    await cache.set('a', { value: Buffer.from('old'), version: 4 });
    await cache.set('c', { value: Buffer.from('c'), version: 1 });
    assert.equal(await cache.get('a'), undefined, 'the ignored set did not refresh a');
    assert.equal((await cache.get('b'))?.value.toString(), 'b');
    await cache.close();
  });

  it('refuses bad options and use after close', async () => {
    assert.throws(() => createLruCache({ maxEntries: 0 }), { code: 'invalid_option' });
    const cache = createLruCache();
    await cache.close();
    await assert.rejects(cache.get('a'), { code: 'cache_closed' });
  });
});
