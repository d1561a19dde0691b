import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { open } from 'lmdb';
import { createLmdbEventLog, type LmdbEventLog, type LogRecord } from '@engram/ports';
import { eventLogContract } from '../contracts/event-log.contract.js';

const tempDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'engram-'));
const rec = (key: string, partition: number, value: string | null, timestamp?: number): LogRecord => ({
  key,
  partition,
  value: value === null ? null : Buffer.from(value),
  ...(timestamp === undefined ? {} : { timestamp }),
});

/** Runs `body` against a fresh log in a fresh directory, then closes and removes both. */
async function withLog(body: (log: LmdbEventLog, dir: string) => Promise<void>, options: { deleteRetentionMs?: number } = {}): Promise<void> {
  const dir = tempDir();
  const log = createLmdbEventLog({ path: dir, ...options });
  try {
    await body(log, dir);
  } finally {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

eventLogContract('LmdbEventLog', async () => {
  const dir = tempDir();
  const log = createLmdbEventLog({ path: dir });
  return {
    log,
    cleanup: async () => {
      await log.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('LmdbEventLog', () => {
  it('with lazyValues, hands out the same records, each read only when first used', async () => {
    await withLog(async (log) => {
      await log.ensureTopic({ name: 'l', partitions: 1, compacted: true });
      await log.append('l', [{ ...rec('a', 0, 'a1', 1_000), headers: { h: '1' } }, rec('b', 0, null, 2_000), rec('a', 0, 'a2', 3_000)]);
      const poll = async (lazyValues: boolean) => {
        const consumer = log.consumer({ group: `g-${lazyValues}`, topic: 'l', lazyValues });
        const records = await consumer.poll({ timeoutMs: 100 });
        await consumer.close();
        return records;
      };
      const view = (records: Awaited<ReturnType<typeof poll>>) =>
        records.map((r) => ({ topic: r.topic, partition: r.partition, offset: r.offset, key: r.key, value: r.value?.toString() ?? null, headers: r.headers, timestamp: r.timestamp }));
      const eager = await poll(false);
      assert.deepEqual(view(await poll(true)), view(eager));
      assert.equal(view(eager)[0]!.value, 'a1');

      // A record's batch is read once, when the first of its records is used: records used later
      // give what the batch held then, as an eager poll would have.
      const used = await poll(true);
      assert.equal(used[1]!.value, null, 'b is a tombstone');
      // Polled lazily, then compacted away before any value was used: a removed record reads as a
      // tombstone (a later record of its key follows), a kept one as before, though compaction
      // split its batch; the eager copy kept every value.
      const unused = await poll(true);
      assert.deepEqual(await log.compact('l'), { removed: 2 }); // a1, and b's tombstone (its timestamp is long past retention)
      assert.equal(unused[0]!.value, null);
      assert.equal(unused[2]!.value?.toString(), 'a2');
      assert.equal(used[0]!.value?.toString(), 'a1');
      assert.equal(eager[0]!.value?.toString(), 'a1');
    });
  });

  it('compacts: keeps the latest copy per key and fresh tombstones, offsets unchanged', async () => {
    await withLog(async (log) => {
      await log.ensureTopic({ name: 'c', partitions: 2, compacted: true });
      const old = Date.now() - 2 * 86_400_000;
      await log.append('c', [rec('a', 0, 'a1'), rec('b', 0, 'b1'), rec('a', 0, 'a2'), rec('x', 1, 'x1'), rec('x', 1, null, old), rec('y', 1, null)]);
      assert.deepEqual(await log.compact('c'), { removed: 3 }); // a1, x1 and the old tombstone of x
      assert.deepEqual((await log.read('c', 0, 0, 10)).map((r) => [r.offset, r.key, r.value?.toString()]), [[1, 'b', 'b1'], [2, 'a', 'a2']]);
      assert.deepEqual((await log.read('c', 1, 0, 10)).map((r) => [r.offset, r.key, r.value]), [[2, 'y', null]]);
      assert.deepEqual(await log.endOffsets('c'), [3, 3], 'end offsets never move back');
      // The purged key is gone from the dedupe index too; a live one still deduplicates.
      const again = await log.append('c', [rec('x', 1, 'x2'), rec('a', 0, 'a3')], { dedupe: true });
      assert.deepEqual(again, [{ partition: 1, offset: 3, duplicate: false }, { partition: 0, offset: 2, duplicate: true }]);
      assert.deepEqual(await log.compact('c'), { removed: 0 });
    });
  });

  it('deduplicates and compacts keys too long for an LMDB key (indexed by their hash)', async () => {
    await withLog(async (log) => {
      await log.ensureTopic({ name: 'long', partitions: 1, compacted: true });
      const [a, b] = ['a', 'b'].map((c) => `${c}${'é'.repeat(1500)}`); // 3,001 bytes of UTF-8 each, alike up to the first character
      assert.deepEqual(await log.append('long', [rec(a!, 0, 'a1'), rec(b!, 0, 'b1'), rec(a!, 0, 'a-again')], { dedupe: true }), [
        { partition: 0, offset: 0, duplicate: false },
        { partition: 0, offset: 1, duplicate: false },
        { partition: 0, offset: 0, duplicate: true },
      ]);
      await log.append('long', [rec(a!, 0, 'a2')]);
      assert.deepEqual(await log.compact('long'), { removed: 1 });
      assert.deepEqual((await log.read('long', 0, 0, 10)).map((r) => [r.offset, r.value?.toString()]), [[1, 'b1'], [2, 'a2']]);
    });
  });

  it('compacts past a chunk boundary and leaves a delete-policy topic alone', async () => {
    await withLog(async (log) => {
      await log.ensureTopic({ name: 'big', partitions: 1, compacted: true });
      await log.ensureTopic({ name: 'plain', partitions: 1, compacted: false });
      const records = Array.from({ length: 2500 }, (_, i) => rec(`k${i % 10}`, 0, `v${i}`));
      await log.append('big', records);
      await log.append('plain', records.slice(0, 20));
      assert.deepEqual(await log.compact('big'), { removed: 2490 });
      assert.deepEqual((await log.read('big', 0, 0, 100)).map((r) => r.offset), Array.from({ length: 10 }, (_, i) => 2490 + i));
      assert.deepEqual(await log.compact('plain'), { removed: 0 });
      assert.equal((await log.read('plain', 0, 0, 100)).length, 20);
    });
  });

  it('shares a poll between partitions so a busy one cannot starve a quiet one', async () => {
    await withLog(async (log) => {
      await log.ensureTopic({ name: 'fair', partitions: 2, compacted: false });
      await log.append('fair', [...Array.from({ length: 300 }, (_, i) => rec(`busy${i}`, 0, 'x')), ...Array.from({ length: 5 }, (_, i) => rec(`quiet${i}`, 1, 'y'))]);
      const c = log.consumer({ group: 'g', topic: 'fair' });
      const first = await c.poll({ maxRecords: 100, timeoutMs: 10 });
      assert.equal(first.length, 100, 'the quiet partition\'s unused share goes to the busy one');
      assert.deepEqual(first.filter((r) => r.partition === 1).map((r) => r.offset), [0, 1, 2, 3, 4]);
      const busy = first.filter((r) => r.partition === 0).map((r) => r.offset);
      assert.deepEqual(busy, Array.from({ length: 95 }, (_, i) => i), 'offset order within a partition');
      assert.deepEqual((await c.poll({ maxRecords: 10, timeoutMs: 10 })).map((r) => r.offset), Array.from({ length: 10 }, (_, i) => 95 + i));
    });
  });

  it('wakes a waiting poll from an in-process append, not from the re-check timer', async () => {
    const dir = tempDir();
    const log = createLmdbEventLog({ path: dir, pollIntervalMs: 60_000 });
    try {
      await log.ensureTopic({ name: 't', partitions: 1, compacted: false });
      const c = log.consumer({ group: 'g', topic: 't' });
      const waiting = c.poll({ timeoutMs: 30_000 });
      await new Promise((resolve) => setTimeout(resolve, 20)); // let the poll start waiting
      const started = performance.now();
      await log.append('t', [rec('k', 0, 'v')]);
      assert.deepEqual((await waiting).map((r) => r.key), ['k']);
      assert.ok(performance.now() - started < 200);
    } finally {
      await log.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ends a waiting poll on abort and on close, and refuses calls after close', async () => {
    const dir = tempDir();
    const log = createLmdbEventLog({ path: dir });
    try {
      await log.ensureTopic({ name: 't', partitions: 1, compacted: false });
      const c = log.consumer({ group: 'g', topic: 't' });
      const controller = new AbortController();
      const started = Date.now();
      const aborted = c.poll({ timeoutMs: 10_000, signal: controller.signal });
      controller.abort();
      assert.deepEqual(await aborted, []);
      const waiting = c.poll({ timeoutMs: 10_000 });
      await log.close();
      assert.deepEqual(await waiting, []);
      assert.ok(Date.now() - started < 2000, 'neither poll waited for its timeout');
      await assert.rejects(log.append('t', [rec('k', 0, 'v')]), { code: 'log_closed' });
      await assert.rejects(c.poll(), { code: 'consumer_closed' });
    } finally {
      await log.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps topics, records and committed offsets across a reopen', async () => {
    const dir = tempDir();
    try {
      const first = createLmdbEventLog({ path: dir });
      await first.ensureTopic({ name: 't', partitions: 2, compacted: true });
      await first.append('t', [rec('k', 1, 'v')], { commit: { group: 'g', topic: 't', offsets: [{ partition: 1, offset: 1 }] } });
      await first.close();
      const second = createLmdbEventLog({ path: dir });
      await assert.rejects(second.ensureTopic({ name: 't', partitions: 4, compacted: true }), { code: 'topic_config_mismatch' });
      assert.deepEqual(await second.endOffsets('t'), [0, 1]);
      assert.deepEqual(await second.committedOffsets('g', 't'), [0, 1]);
      assert.deepEqual((await second.append('t', [rec('k', 1, 'v')], { dedupe: true }))[0], { partition: 1, offset: 0, duplicate: true });
      await second.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stores the records of an append as one batch per partition, and still reads a log written a record per entry', async () => {
    const dir = tempDir();
    try {
      const log = createLmdbEventLog({ path: dir });
      await log.ensureTopic({ name: 't', partitions: 2, compacted: true });
      await log.close();

      // A log from before batches: one entry per record under [topic, partition, offset], its
      // envelope's msgpack structure either inline (lmdb-js's default, before shared structures)
      // or shared; the key index and the end offset as such a log kept them.
      const root = open({ path: dir });
      type Envelope = { k: string; v: Buffer | null; h: Record<string, string>; t: number };
      const inline = root.openDB<Envelope, [string, number, number]>('records', {});
      const shared = root.openDB<Envelope, [string, number, number]>('records', { sharedStructuresKey: Symbol.for('structures') });
      const keyIndex = root.openDB<[number, number], Buffer>('key-index', { keyEncoding: 'binary' });
      const ends = root.openDB<number, [string, number]>('end-offsets', {});
      await root.childTransaction(() => {
        inline.putSync(['t', 0, 0], { k: 'a', v: Buffer.from('a1'), h: {}, t: 1000 });
        shared.putSync(['t', 0, 1], { k: 'b', v: Buffer.from('b1'), h: { traceparent: 'tp' }, t: 1001 });
        inline.putSync(['t', 0, 2], { k: 'c', v: Buffer.from('c1'), h: { x: 'y' }, t: 1002 });
        ['a', 'b', 'c'].forEach((k, offset) => keyIndex.putSync(Buffer.from(`t\0${k}`), [0, offset]));
        ends.putSync(['t', 0], 3);
      });
      await root.close();

      const reopened = createLmdbEventLog({ path: dir });
      try {
        const read = async () => (await reopened.read('t', 0, 0, 10)).map((r) => [r.offset, r.key, r.value?.toString() ?? null, r.headers, r.timestamp]);
        const legacy = [
          [0, 'a', 'a1', {}, 1000],
          [1, 'b', 'b1', { traceparent: 'tp' }, 1001],
          [2, 'c', 'c1', { x: 'y' }, 1002],
        ];
        assert.deepEqual(await read(), legacy);
        await reopened.append('t', [rec('d', 0, 'd1', 1003), rec('e', 1, 'e1', 1004), rec('f', 0, 'f1', 1005)]);
        assert.deepEqual(await read(), [...legacy, [3, 'd', 'd1', {}, 1003], [4, 'f', 'f1', {}, 1005]], 'old and new entries follow each other');
        assert.deepEqual((await reopened.read('t', 0, 4, 10)).map((r) => r.key), ['f'], 'a read from the middle of a batch starts there');
        assert.deepEqual(await reopened.append('t', [rec('b', 0, 'b2')], { dedupe: true }), [{ partition: 0, offset: 1, duplicate: true }]);
        // Compaction removes a superseded legacy record and splits a batch around a superseded one.
        await reopened.append('t', [rec('a', 0, 'a2', 1006), rec('d', 0, 'd2', 1007)]);
        assert.deepEqual(await reopened.compact('t'), { removed: 2 });
        assert.deepEqual((await read()).map(([offset, key]) => [offset, key]), [[1, 'b'], [2, 'c'], [4, 'f'], [5, 'a'], [6, 'd']]);
        const lazy = reopened.consumer({ group: 'g', topic: 't', lazyValues: true });
        const polled = await lazy.poll({ timeoutMs: 100 });
        await lazy.close();
        assert.deepEqual(polled.filter((r) => r.partition === 0).map((r) => [r.offset, r.key]), [[1, 'b'], [2, 'c'], [4, 'f'], [5, 'a'], [6, 'd']], 'a lazy read counts the same records from the keys');
      } finally {
        await reopened.close();
      }

      // On disk: one entry per partition and append, keyed [topic, partition, last, base].
      const after = open({ path: dir });
      const keys = [...after.openDB<unknown, (string | number)[]>('records', {}).getKeys({ start: ['t'], end: ['t', 99] })];
      await after.close();
      assert.deepEqual(keys, [['t', 0, 1], ['t', 0, 2], ['t', 0, 4, 4], ['t', 0, 6, 5], ['t', 1, 0, 0]]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects bad options, names and records with stable codes', async () => {
    const unused = tempDir();
    assert.throws(() => createLmdbEventLog({ path: unused, pollIntervalMs: 0 }), { code: 'invalid_option' });
    fs.rmSync(unused, { recursive: true, force: true });
    await withLog(async (log) => {
      await assert.rejects(log.ensureTopic({ name: 'bad\u0000name', partitions: 1, compacted: false }), { code: 'invalid_topic_name' });
      await assert.rejects(log.ensureTopic({ name: 't0', partitions: 0, compacted: false }), { code: 'invalid_topic_spec' });
      await log.ensureTopic({ name: 't', partitions: 1, compacted: false });
      await assert.rejects(log.append('t', [rec('ok', 0, 'v'), { key: 'k', partition: 0, value: 'text' as unknown as Buffer }]), { code: 'invalid_record' });
      assert.throws(() => log.consumer({ group: 'g', topic: 'nope' }), { code: 'topic_not_found' });
      assert.deepEqual(await log.endOffsets('t'), [0]);
    });
  });

  it('sees appends of another process, and keeps every acknowledged record after kill -9', async () => {
    const dir = tempDir();
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./lmdb-event-log.crash-child.ts', import.meta.url)), dir, 'crash'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const acked = (): string[] => stdout.split('\n').slice(0, -1); // the last piece may be a partial line
    try {
      const deadline = Date.now() + 20_000;
      while (acked().length < 400) {
        assert.ok(Date.now() < deadline && child.exitCode === null, `the child stopped early: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // The child is still appending: a consumer here must see its records (the re-check timer).
      const watcher = createLmdbEventLog({ path: dir, pollIntervalMs: 20 });
      const c = watcher.consumer({ group: 'watch', topic: 'crash', fromBeginning: false });
      assert.deepEqual(await c.poll({ timeoutMs: 0 }), [], 'starts at the end');
      const waitStarted = performance.now();
      const fresh = await c.poll({ timeoutMs: 5000 });
      assert.ok(fresh.length > 0 && fresh.every((r) => r.key.startsWith('rec-')), 'records appended by the other process');
      // Woken by the log's watcher (20 ms re-checks), not by the poll giving up after its 5 s.
      assert.ok(performance.now() - waitStarted < 2000, `the waiting poll took ${Math.round(performance.now() - waitStarted)} ms`);
      await watcher.close();

      child.kill('SIGKILL');
      assert.equal(await exited, 'SIGKILL');
      const lines = acked();
      const log = createLmdbEventLog({ path: dir });
      try {
        const ends = await log.endOffsets('crash');
        const stored = new Map<string, string>();
        for (const p of [0, 1]) {
          for (let from = 0; from < (ends[p] ?? 0); ) {
            const page = await log.read('crash', p, from, 1000);
            for (const r of page) stored.set(`${p} ${r.offset}`, `${r.key}=${r.value?.toString()}`);
            from = (page[page.length - 1]?.offset ?? from) + 1;
          }
        }
        for (const line of lines) {
          const [n, p, offset] = line.split(' ');
          assert.equal(stored.get(`${p} ${offset}`), `rec-${n}=value-${n}`, `acknowledged record ${n} at ${p}/${offset}`);
        }
        assert.ok(stored.size >= lines.length);
        assert.equal((await log.append('crash', [rec('after', 0, 'v')]))[0]?.offset, ends[0], 'the log takes appends again');
      } finally {
        await log.close();
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
