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

      // Read lazily, then compacted away before its value was used: it reads as a tombstone (a
      // later record of its key follows), where the eager copy had kept the value.
      const lazy = await poll(true);
      assert.equal(lazy[1]!.value, null, 'b is a tombstone');
      assert.deepEqual(await log.compact('l'), { removed: 2 }); // a1, and b's tombstone (its timestamp is long past retention)
      assert.equal(lazy[0]!.value, null);
      assert.equal(lazy[2]!.value?.toString(), 'a2');
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

  it('stores record envelopes with shared msgpack structures, and still reads records that define theirs inline', async () => {
    const dir = tempDir();
    try {
      const log = createLmdbEventLog({ path: dir });
      await log.ensureTopic({ name: 't', partitions: 1, compacted: true });
      await log.append('t', [rec('a', 0, 'a1', 1000), { ...rec('b', 0, 'b1', 1001), headers: { traceparent: 'tp' } }, rec('c', 0, 'c1', 1002)]);
      await log.close();

      const root = open({ path: dir });
      const raw = root.openDB<Buffer, [string, number, number]>('records', { encoding: 'binary' });
      // 0xd4 0x72 opens an inline record definition (msgpackr's "r" extension): every record paid it before.
      const inline = (offset: number): boolean => raw.get(['t', 0, offset])!.subarray(0, 2).equals(Buffer.from([0xd4, 0x72]));
      assert.deepEqual([0, 1, 2].map(inline), [false, false, false], 'new records refer to shared structures');
      // Records written before: lmdb-js's default msgpack handle defines each record's structure inline.
      const legacy = root.openDB<{ k: string; v: Buffer; h: Record<string, string>; t: number }, [string, number, number]>('records', {});
      await root.childTransaction(() => {
        legacy.putSync(['t', 0, 0], { k: 'a', v: Buffer.from('a1'), h: {}, t: 1000 });
        legacy.putSync(['t', 0, 2], { k: 'c', v: Buffer.from('c1'), h: { x: 'y' }, t: 1002 });
      });
      assert.deepEqual([0, 1, 2].map(inline), [true, false, true]);
      await root.close();

      const reopened = createLmdbEventLog({ path: dir });
      try {
        const read = async () => (await reopened.read('t', 0, 0, 10)).map((r) => [r.offset, r.key, Buffer.isBuffer(r.value) && r.value.toString(), r.headers, r.timestamp]);
        const expected = [
          [0, 'a', 'a1', {}, 1000],
          [1, 'b', 'b1', { traceparent: 'tp' }, 1001],
          [2, 'c', 'c1', { x: 'y' }, 1002],
        ];
        assert.deepEqual(await read(), expected);
        await reopened.append('t', [rec('d', 0, 'd1', 1003)]);
        assert.deepEqual(await read(), [...expected, [3, 'd', 'd1', {}, 1003]], 'old and new records interleave');
      } finally {
        await reopened.close();
      }
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
