import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Waker } from './lmdb-log-consumer.js';

/** A Waker over fake end offsets, counting how often it looks at them. */
function watched(intervalMs: number) {
  const ends = new Map<string, number>();
  const reads: string[] = [];
  const waker = new Waker(intervalMs, (topic) => {
    reads.push(topic);
    return String(ends.get(topic) ?? 0);
  });
  return { waker, ends, reads };
}

describe('Waker (embedded log wake-ups)', () => {
  it('looks at nothing while no poll waits, and once per topic per interval while several do', async () => {
    const { waker, reads } = watched(20);
    await sleep(80);
    assert.equal(reads.length, 0, 'no waiter, no checks');

    const polls = [waker.wait('a', 150), waker.wait('a', 150), waker.wait('a', 150), waker.wait('b', 150)];
    await Promise.all(polls);
    const a = reads.filter((t) => t === 'a').length;
    const b = reads.filter((t) => t === 'b').length;
    // One first look per topic, then one per ~20 ms tick: not one per waiting poll.
    assert.ok(a >= 2 && a <= 12, `topic a was read ${a} times`);
    assert.ok(b >= 2 && b <= 12, `topic b was read ${b} times`);

    const after = reads.length;
    await sleep(80);
    assert.equal(reads.length, after, 'the timer stops once nobody waits');
    waker.close();
  });

  it('wakes the waiters of a topic whose end offsets another process moved, and only those', async () => {
    const { waker, ends } = watched(10);
    const started = performance.now();
    let bWoke = false;
    const a = waker.wait('a', 5000);
    const b = waker.wait('b', 300).then(() => (bWoke = true));
    ends.set('a', 1);
    await a;
    assert.ok(performance.now() - started < 1000, 'woken by the watcher, not by the 5 s timeout');
    assert.equal(bWoke, false, 'an unchanged topic keeps waiting');
    await b;
    waker.close();
  });

  it('wakes at once from wake(), on abort and on close', async () => {
    const { waker } = watched(1000);
    const started = performance.now();
    const woken = waker.wait('a', 5000);
    waker.wake('a');
    await woken;
    const abort = new AbortController();
    const aborted = waker.wait('a', 5000, abort.signal);
    abort.abort();
    await aborted;
    const closing = waker.wait('b', 5000);
    waker.close();
    await closing;
    assert.ok(performance.now() - started < 1000);
  });
});
