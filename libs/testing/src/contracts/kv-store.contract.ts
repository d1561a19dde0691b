/**
 * The KvStore contract: the same assertions for every implementation (embedded LMDB, TiKV). Every
 * test works under its own key prefix, so the suite also runs against a shared cluster.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { KvStore, ScanOptions } from '@engram/ports';

/** Makes a fresh store; `cleanup` closes it and removes whatever the factory created. */
export type KvStoreFactory = () => Promise<{ kv: KvStore; cleanup: () => Promise<void> }>;

const buf = (s: string): Buffer => Buffer.from(s, 'utf8');

export function kvStoreContract(name: string, factory: KvStoreFactory): void {
  describe(`KvStore contract: ${name}`, () => {
    let kv: KvStore;
    let cleanup: () => Promise<void>;
    const run = randomBytes(4).toString('hex');
    let counter = 0;
    const space = (label: string): string => `contract/${run}/${++counter}-${label}/`;

    const put = (keys: string[]): Promise<void> => kv.batch(keys.map((key) => ({ type: 'put', key, value: buf(`v:${key}`) })));
    const keysOf = async (options: ScanOptions): Promise<string[]> => (await kv.scan(options)).entries.map((e) => e.key);
    /** Follows cursors to the end; checks each page's size and that values match their keys. */
    const pageAll = async (options: ScanOptions, maxPages: number): Promise<string[]> => {
      const keys: string[] = [];
      let after: string | undefined;
      for (let page = 0; ; page++) {
        assert.ok(page < maxPages, `more than ${maxPages} pages`);
        const result = await kv.scan({ ...options, ...(after === undefined ? {} : { after }) });
        assert.ok(result.entries.length <= (options.limit ?? 100));
        for (const e of result.entries) assert.equal(e.value.toString(), `v:${e.key}`);
        keys.push(...result.entries.map((e) => e.key));
        if (result.cursor === undefined) return keys;
        assert.equal(result.cursor, result.entries[result.entries.length - 1]?.key, 'the cursor is the last key returned');
        after = result.cursor;
      }
    };

    before(async () => {
      ({ kv, cleanup } = await factory());
    });
    after(async () => {
      await cleanup();
    });

    it('puts, gets, overwrites and deletes', async () => {
      const k = `${space('crud')}key ü ✓`;
      assert.equal(await kv.get(k), undefined);
      const bytes = Buffer.from([0, 1, 2, 255, 0]);
      await kv.batch([{ type: 'put', key: k, value: bytes }]);
      assert.deepEqual([...((await kv.get(k)) ?? [])], [...bytes]);
      await kv.batch([{ type: 'put', key: k, value: buf('second') }]);
      assert.equal((await kv.get(k))?.toString(), 'second');
      await kv.batch([{ type: 'del', key: k }]);
      assert.equal(await kv.get(k), undefined);
      await kv.batch([{ type: 'del', key: k }]); // deleting a missing key is fine
      await kv.batch([]);
    });

    it('applies a batch atomically: all ops, or none when one is invalid', async () => {
      const s = space('atomic');
      await put([`${s}old`]);
      await kv.batch([
        { type: 'put', key: `${s}a`, value: buf('1') },
        { type: 'del', key: `${s}old` },
        { type: 'put', key: `${s}b`, value: buf('2') },
      ]);
      assert.deepEqual(await keysOf({ prefix: s }), [`${s}a`, `${s}b`]);
      await assert.rejects(
        kv.batch([
          { type: 'put', key: `${s}c`, value: buf('3') },
          { type: 'del', key: `${s}a` },
          { type: 'put', key: `${s}d`, value: 'not bytes' as unknown as Buffer },
        ]),
      );
      assert.deepEqual(await keysOf({ prefix: s }), [`${s}a`, `${s}b`], 'nothing of the failed batch is stored');
    });

    it('scans exactly the keys under a prefix, ordered by UTF-8 bytes', async () => {
      const s = space('prefix');
      // '|' (0x7c) sorts after 'c' (0x63): a|bc|x lies between a|b and a|b|; the emoji (F0 ..) sorts
      // after U+FFFF (EF ..) in UTF-8 although its UTF-16 code units are smaller.
      const inside = ['a|b|', 'a|b|1', 'a|b|2', 'a|b|z', 'a|b|é', 'a|b|\uffff', 'a|b|😀'].map((k) => s + k);
      const outside = ['a|b', 'a|bc|x', 'a|c', 'a|a|z', 'b'].map((k) => s + k);
      await put([...outside, ...inside].reverse());
      assert.deepEqual(await keysOf({ prefix: `${s}a|b|` }), inside);
      assert.deepEqual(await keysOf({ prefix: `${s}a|b|`, reverse: true }), [...inside].reverse());
      assert.deepEqual(await keysOf({ prefix: `${s}a|bc` }), [`${s}a|bc|x`]);
      assert.deepEqual(await keysOf({ prefix: `${s}zzz` }), []);
      const page = await kv.scan({ prefix: s, limit: 100 });
      assert.equal(page.cursor, undefined, 'no cursor when nothing follows');
      assert.equal(page.entries.length, inside.length + outside.length);
    });

    it('pages through 250 keys with a cursor, forwards and in reverse', async () => {
      const s = space('paging');
      const keys = Array.from({ length: 250 }, (_, i) => `${s}${String(i).padStart(3, '0')}`);
      for (let i = 0; i < keys.length; i += 50) await put(keys.slice(i, i + 50));
      assert.deepEqual(await pageAll({ prefix: s, limit: 100 }, 4), keys);
      assert.deepEqual(await pageAll({ prefix: s, limit: 100, reverse: true }, 4), [...keys].reverse());
      assert.deepEqual(await pageAll({ prefix: s, limit: 7 }, 40), keys);
      const first = await kv.scan({ prefix: s, limit: 100 });
      assert.equal(first.entries.length, 100);
      assert.equal(first.cursor, keys[99]);
      assert.deepEqual(await keysOf({ prefix: s, after: keys[247], limit: 10 }), [keys[248], keys[249]]);
      assert.deepEqual(await keysOf({ prefix: s, after: keys[2], limit: 10, reverse: true }), [keys[1], keys[0]]);
      assert.equal((await kv.scan({ prefix: s })).entries.length, 100, 'limit defaults to 100');
    });

    it('gets many keys in the order asked, with undefined for missing ones', async () => {
      const s = space('many');
      await put([`${s}x`, `${s}y`]);
      const values = await kv.getMany([`${s}y`, `${s}missing`, `${s}x`, `${s}y`]);
      assert.deepEqual(values.map((v) => v?.toString()), [`v:${s}y`, undefined, `v:${s}x`, `v:${s}y`]);
      assert.deepEqual(await kv.getMany([]), []);
    });
  });
}
