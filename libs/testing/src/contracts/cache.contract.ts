/**
 * The Cache contract: the same assertions for every implementation (in-process LRU, Redis). Keys are
 * unique per run, so the suite also runs against a shared Redis.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Cache } from '@engram/ports';

/** Makes a fresh cache; the suite closes it. */
export type CacheFactory = () => Promise<Cache>;

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal((error as { code?: unknown }).code, code, `expected code ${code}, got ${String(error)}`);
    return true;
  });
}

/** Polls (every 10 ms) until `check` holds; fails after `timeoutMs`. */
async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function cacheContract(name: string, factory: CacheFactory): void {
  describe(`Cache contract: ${name}`, () => {
    let cache: Cache;
    const run = randomBytes(4).toString('hex');
    let counter = 0;
    const key = (label: string): string => `contract:${run}:${++counter}:${label}`;

    before(async () => {
      cache = await factory();
    });
    after(async () => {
      await cache.close();
    });

    it('misses an unknown key', async () => {
      assert.equal(await cache.get(key('missing')), undefined);
    });

    it('returns the stored bytes and version', async () => {
      const k = key('bytes/ü ✓');
      const value = Buffer.from([0, 1, 2, 255, 0, 10, 13]);
      await cache.set(k, { value, version: 3 });
      const entry = await cache.get(k);
      assert.deepEqual(entry && { value: [...entry.value], version: entry.version }, { value: [...value], version: 3 });
    });

    it('keeps the newer version: an older set is ignored, an equal or newer one replaces', async () => {
      const k = key('versions');
      await cache.set(k, { value: Buffer.from('v5'), version: 5 });
      await cache.set(k, { value: Buffer.from('v4'), version: 4 });
      assert.equal((await cache.get(k))?.value.toString(), 'v5');
      await cache.set(k, { value: Buffer.from('v5-again'), version: 5 });
      assert.equal((await cache.get(k))?.value.toString(), 'v5-again');
      await cache.set(k, { value: Buffer.from('v6'), version: 6 });
      assert.deepEqual(await cache.get(k).then((e) => e && [e.value.toString(), e.version]), ['v6', 6]);
    });

    it('deletes several keys at once, missing ones included', async () => {
      const [a, b, c] = [key('a'), key('b'), key('c')];
      await cache.set(a, { value: Buffer.from('a'), version: 1 });
      await cache.set(b, { value: Buffer.from('b'), version: 1 });
      await cache.set(c, { value: Buffer.from('c'), version: 1 });
      await cache.delete([a, b, key('never-set')]);
      assert.equal(await cache.get(a), undefined);
      assert.equal(await cache.get(b), undefined);
      assert.equal((await cache.get(c))?.value.toString(), 'c');
      await cache.delete([]);
    });

    it('expires an entry after its ttl, and keeps one without ttl', async () => {
      const [short, forever] = [key('ttl'), key('no-ttl')];
      await cache.set(short, { value: Buffer.from('s'), version: 1 }, 150);
      await cache.set(forever, { value: Buffer.from('f'), version: 1 });
      assert.equal((await cache.get(short))?.value.toString(), 's');
      await eventually(async () => (await cache.get(short)) === undefined, 5000, 'the ttl to expire');
      assert.equal((await cache.get(forever))?.value.toString(), 'f');
      await cache.set(short, { value: Buffer.from('older'), version: 0 });
      assert.equal((await cache.get(short))?.value.toString(), 'older', 'an expired entry no longer blocks older versions');
    });

    it('refuses a ttl that is not a positive number', async () => {
      await rejectsWithCode(cache.set(key('bad-ttl'), { value: Buffer.from('x'), version: 1 }, 0), 'invalid_ttl');
      await rejectsWithCode(cache.set(key('bad-ttl'), { value: Buffer.from('x'), version: 1 }, -5), 'invalid_ttl');
    });

    it('is not changed by callers mutating buffers', async () => {
      const k = key('copy');
      const value = Buffer.from('original');
      await cache.set(k, { value, version: 1 });
      value.fill(0);
      const first = await cache.get(k);
      first?.value.fill(0);
      assert.equal((await cache.get(k))?.value.toString(), 'original');
    });
  });
}
