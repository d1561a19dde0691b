import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StoredRecord } from '../event-log.js';
import { createLmdbEventLog, type LmdbEventLog } from './lmdb-event-log.js';
import { LogTail } from './lmdb-log-tail.js';

const rec = (partition: number, offset: number): StoredRecord => ({ topic: 't', partition, offset, key: `k${offset}`, value: Buffer.from(`v${offset}`), headers: {}, timestamp: 1 });
const offsets = (records: StoredRecord[] | undefined) => records?.map((r) => r.offset);

describe('LogTail (what an embedded log appended last)', () => {
  it('answers reads inside its run of consecutive offsets and leaves the rest to LMDB', () => {
    const tail = new LogTail(4);
    tail.add([rec(0, 10), rec(1, 0), rec(0, 11), rec(0, 12)]);
    assert.deepEqual(offsets(tail.read('t', 0, 10, 2)), [10, 11]);
    assert.deepEqual(offsets(tail.read('t', 0, 11, 100)), [11, 12]);
    assert.equal(tail.read('t', 0, 9, 10), undefined, 'before the run');
    assert.equal(tail.read('t', 0, 13, 10), undefined, 'at its end: another writer may have appended since');
    assert.equal(tail.read('t', 2, 0, 10), undefined, 'a partition it never saw');
    assert.equal(tail.read('other', 0, 10, 10), undefined);
  });

  it('starts a new run at a gap, so it never skips records it did not see', () => {
    const tail = new LogTail(4);
    tail.add([rec(0, 0), rec(0, 1)]);
    tail.add([rec(0, 5)]); // 2..4 were appended elsewhere
    assert.equal(tail.read('t', 0, 1, 10), undefined);
    assert.deepEqual(offsets(tail.read('t', 0, 5, 10)), [5]);
  });

  it('keeps between perPartition and twice as many records, and nothing when perPartition is 0', () => {
    const tail = new LogTail(3);
    tail.add(Array.from({ length: 7 }, (_, i) => rec(0, i)));
    const kept = offsets(tail.read('t', 0, 4, 10))!;
    assert.deepEqual(kept, [4, 5, 6]);
    assert.equal(tail.read('t', 0, 0, 10), undefined, 'trimmed from the front');
    const off = new LogTail(0);
    off.add([rec(0, 0)]);
    assert.equal(off.read('t', 0, 0, 1), undefined);
    tail.clear('t');
    assert.equal(tail.read('t', 0, 6, 1), undefined, 'cleared');
  });
});

describe('embedded log with a tail', () => {
  let dir: string;
  let log: LmdbEventLog;
  let other: LmdbEventLog;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-log-tail-'));
    log = createLmdbEventLog({ path: dir });
    other = createLmdbEventLog({ path: dir, tailRecords: 0 });
    await log.ensureTopic({ name: 't', partitions: 2, compacted: true });
  });
  afterEach(async () => {
    await log.close();
    await other.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const record = (key: string, partition: number, value: string | null = `v-${key}`) => ({ key, partition, value: value === null ? null : Buffer.from(value), headers: { h: key } });
  const plain = (records: StoredRecord[]) => records.map((r) => ({ ...r, value: r.value?.toString() ?? null }));

  it('hands its consumers the records LMDB holds, also around appends by another instance', async () => {
    const consumer = log.consumer({ group: 'g', topic: 't' });
    const fromLmdb = other.consumer({ group: 'g2', topic: 't' });
    await log.append('t', [record('a', 0), record('b', 1), record('c', 0)]);
    await other.append('t', [record('d', 0)]); // not in `log`'s tail: a gap for it
    await log.append('t', [record('e', 0), record('a', 0, 'again'), record('f', 1, null)], { dedupe: true });
    const mine = await consumer.poll({ maxRecords: 100, timeoutMs: 200 });
    const theirs = await fromLmdb.poll({ maxRecords: 100, timeoutMs: 200 });
    assert.deepEqual(plain(mine), plain(theirs));
    assert.deepEqual(
      mine.filter((r) => r.partition === 0).map((r) => [r.offset, r.key]),
      [[0, 'a'], [1, 'c'], [2, 'd'], [3, 'e']],
      'the duplicate was not appended, the other instance`s record is there',
    );
    assert.deepEqual(plain(await log.read('t', 0, 1, 10)), plain(await other.read('t', 0, 1, 10)));
  });

  it('keeps its own copy of what was appended', async () => {
    const value = Buffer.from('original');
    const headers = { h: 'x' };
    await log.append('t', [{ key: 'k', partition: 0, value, headers }]);
    value.write('CHANGED!');
    headers.h = 'changed';
    const [read] = await log.read('t', 0, 0, 1);
    assert.equal(read!.value!.toString(), 'original');
    assert.deepEqual(read!.headers, { h: 'x' });
  });

  it('serves no record that compaction removed', async () => {
    await log.append('t', [record('k', 0, 'old'), record('k', 0, 'new')]);
    assert.equal((await log.compact('t')).removed, 1);
    assert.deepEqual((await log.read('t', 0, 0, 10)).map((r) => r.value?.toString()), ['new']);
  });
});
