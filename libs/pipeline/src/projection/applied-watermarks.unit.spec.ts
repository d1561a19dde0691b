import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { EngramError } from '@engram/core';
import { createLmdbKvStore, type KvStore } from '@engram/ports';
import { json, vectorWatermarkKey, watermarkKey } from '../kv-keys.js';
import { tempDir } from '../pipeline.spec-helper.js';
import { createAppliedWatermarks, type AppliedWatermarks, type Watermark } from './applied-watermarks.js';

const PARTITIONS = 4;

function hasCode(code: string, retriable?: boolean) {
  return (error: unknown) => error instanceof EngramError && error.code === code && (retriable === undefined || error.retriable === retriable);
}

/** Resolves to 'pending' if `promise` has not settled once pending callbacks and I/O have run. */
function state(promise: Promise<unknown>): Promise<'resolved' | 'rejected' | 'pending'> {
  return Promise.race([
    promise.then(() => 'resolved' as const, () => 'rejected' as const),
    new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending'))),
  ]);
}

describe('applied watermarks', () => {
  let dir: string;
  let kv: KvStore;
  const opened: AppliedWatermarks[] = [];
  const open = (options: { keyFor?: (partition: number) => string; follow?: 'kv' | 'announced' } = {}) => {
    const marks = createAppliedWatermarks({ kv, partitions: PARTITIONS, refreshMs: 5, ...options });
    opened.push(marks);
    return marks;
  };
  const store = (key: string, mark: Watermark) => kv.batch([{ type: 'put', key, value: json(mark) }]);

  beforeEach(() => {
    dir = tempDir();
    kv = createLmdbKvStore({ path: dir });
  });
  afterEach(async () => {
    for (const marks of opened.splice(0)) marks.close();
    await kv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('resolves waitFor once every named partition has advanced far enough', async () => {
    const marks = open();
    const waiting = marks.waitFor(new Map([[1, 5], [2, 0]]), 5000);
    marks.advance(1, 4);
    marks.advance(2, 0);
    assert.equal(await state(waiting), 'pending', 'partition 1 is still one short');
    marks.advance(1, 5);
    await waiting;
    assert.equal(marks.isApplied(new Map([[1, 5], [2, 0]])), true);
    assert.equal(marks.isApplied(new Map([[1, 6]])), false);
  });

  it('resolves at once for positions already applied, and never moves backwards', async () => {
    const marks = open();
    marks.advance(0, 10);
    marks.advance(0, 3);
    assert.equal(marks.isApplied(new Map([[0, 10]])), true);
    await marks.waitFor(new Map([[0, 7]]), 1);
    await marks.waitFor(new Map(), 1);
  });

  it('times out with a retriable consistency_timeout', async () => {
    const marks = open();
    const started = Date.now();
    await assert.rejects(marks.waitFor(new Map([[0, 100]]), 60), hasCode('consistency_timeout', true));
    assert.ok(Date.now() - started >= 55, `gave up after ${Date.now() - started} ms`);
    // The timed-out waiter is gone: a later advance wakes nothing and breaks nothing.
    marks.advance(0, 100);
    assert.equal(marks.isApplied(new Map([[0, 100]])), true);
  });

  it('picks up a watermark another instance wrote to KV', async () => {
    const marks = open();
    await store(watermarkKey(3), { enrichedOffset: 1, sourceOffset: 2 });
    await marks.waitFor(new Map([[3, 2]]), 1000); // read before waiting

    const waiting = marks.waitFor(new Map([[3, 9]]), 5000);
    assert.equal(await state(waiting), 'pending');
    await store(watermarkKey(3), { enrichedOffset: 4, sourceOffset: 9 });
    await waiting; // found by the periodic refresh
    assert.equal(marks.isApplied(new Map([[3, 9]])), true);
  });

  it("with follow: 'announced', reads KV once at load and then moves only on advance", async () => {
    const marks = open({ follow: 'announced' });
    await store(watermarkKey(2), { enrichedOffset: 3, sourceOffset: 4 });
    await marks.load();
    assert.equal(marks.isApplied(new Map([[2, 4]])), true, 'load read the stored mark');

    // The projection of this process has stored its batch but not yet announced it.
    await store(watermarkKey(2), { enrichedOffset: 8, sourceOffset: 9 });
    const waiting = marks.waitFor(new Map([[2, 9]]), 5000);
    await new Promise((resolve) => setTimeout(resolve, 30)); // six refresh intervals
    assert.equal(await state(waiting), 'pending', 'KV is not read while waiting');
    marks.advance(2, 9);
    await waiting;
  });

  it('rejects a partition outside the range with invalid_token', async () => {
    const marks = open();
    await assert.rejects(marks.waitFor(new Map([[PARTITIONS, 0]]), 100), hasCode('invalid_token', false));
    await assert.rejects(marks.waitFor(new Map([[-1, 0]]), 100), hasCode('invalid_token', false));
  });

  it('reads the keys keyFor selects (the vector indexer uses vw|)', async () => {
    const vectorMarks = open({ keyFor: vectorWatermarkKey });
    await store(watermarkKey(1), { enrichedOffset: 5, sourceOffset: 5 });
    await assert.rejects(vectorMarks.waitFor(new Map([[1, 5]]), 40), hasCode('consistency_timeout'), 'w| is not the vector watermark');

    const waiting = vectorMarks.waitFor(new Map([[1, 5]]), 5000);
    await store(vectorWatermarkKey(1), { enrichedOffset: 5, sourceOffset: 5 });
    await waiting;
    assert.equal(vectorMarks.isApplied(new Map([[1, 5]])), true);
  });
});
