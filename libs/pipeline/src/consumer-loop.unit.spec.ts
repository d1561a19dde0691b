import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { EngramError, UnavailableError, ValidationError } from '@engram/core';
import { createLmdbEventLog, type LmdbEventLog, type LogConsumer, type StoredRecord } from '@engram/ports';
import { nextOffsets, startConsumerLoop, type ConsumerLoop, type ConsumerLoopOptions } from './consumer-loop.js';
import { createRecordingDeadLetters, silentTelemetry, tempDir, waitUntil } from './pipeline.spec-helper.js';

const TOPIC = 'loop-topic';
const GROUP = 'loop-group';

describe('nextOffsets', () => {
  it('gives the next offset to read per partition, the max of each', () => {
    const rec = (partition: number, offset: number) => ({ partition, offset }) as StoredRecord;
    assert.deepEqual(
      nextOffsets([rec(0, 4), rec(1, 0), rec(0, 2), rec(0, 7), rec(1, 3)]).sort((a, b) => a.partition - b.partition),
      [{ partition: 0, offset: 8 }, { partition: 1, offset: 4 }],
    );
    assert.deepEqual(nextOffsets([]), []);
  });
});

describe('consumer loop (embedded log)', () => {
  let dir: string;
  let log: LmdbEventLog;
  let loop: ConsumerLoop | undefined;

  beforeEach(async () => {
    dir = tempDir();
    log = createLmdbEventLog({ path: path.join(dir, 'log'), pollIntervalMs: 10 });
    await log.ensureTopic({ name: TOPIC, partitions: 2, compacted: false });
  });
  afterEach(async () => {
    await loop?.stop();
    loop = undefined;
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function append(keys: string[], partition = 0): Promise<void> {
    await log.append(TOPIC, keys.map((key) => ({ key, value: Buffer.from(key), partition })));
  }

  function start(options: Partial<ConsumerLoopOptions> & Pick<ConsumerLoopOptions, 'handle'>, consumer?: LogConsumer): ConsumerLoop {
    loop = startConsumerLoop({
      name: 'test',
      consumer: consumer ?? log.consumer({ group: GROUP, topic: TOPIC }),
      deadLetters: createRecordingDeadLetters(),
      telemetry: silentTelemetry(),
      backoffMs: 1,
      ...options,
    });
    return loop;
  }

  const committed = () => log.committedOffsets(GROUP, TOPIC);

  it('fills a batch for up to lingerMs (dynamic batching), and sends a full batch at once', async () => {
    const batches: Array<{ keys: string[]; at: number }> = [];
    start({ maxRecords: 4, lingerMs: 300, handle: async (records) => void batches.push({ keys: records.map((r) => r.key!), at: performance.now() }) });
    await append(['a']);
    await new Promise((r) => setTimeout(r, 50));
    await append(['b'], 1);
    await waitUntil(() => batches.length === 1, 3000);
    assert.deepEqual(batches[0]!.keys.sort(), ['a', 'b'], 'records arriving within the linger share a batch');

    const sent = performance.now();
    await append(['c', 'd', 'e', 'f', 'g']);
    await waitUntil(() => batches.length === 3, 3000);
    assert.deepEqual(batches.slice(1).map((b) => b.keys), [['c', 'd', 'e', 'f'], ['g']]);
    assert.ok(batches[1]!.at - sent < 200, `a full batch does not wait: handled after ${batches[1]!.at - sent} ms`);
    assert.ok(batches[2]!.at - sent >= 250, `the rest waits for the linger: handled after ${batches[2]!.at - sent} ms`);
    await waitUntil(async () => (await committed())[0] === 6, 3000);
  });

  it('with no linger, handles what one poll returns', async () => {
    const batches: string[][] = [];
    start({ maxRecords: 4, handle: async (records) => void batches.push(records.map((r) => r.key!)) });
    await append(['a']);
    await waitUntil(() => batches.length === 1, 3000);
    await append(['b']);
    await waitUntil(() => batches.length === 2, 3000);
    assert.deepEqual(batches, [['a'], ['b']]);
  });

  it('commits the next offsets only after handle resolved', async () => {
    await append(['a', 'b', 'c'], 0);
    await append(['d', 'e'], 1);
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    start({
      handle: async (records) => {
        seen.push(...records.map((r) => r.key));
        await gate;
      },
    });
    await waitUntil(() => seen.length === 5, 5000, 'the batch to be handed over');
    assert.deepEqual(await committed(), [0, 0], 'nothing is committed while handle is running');
    release();
    await waitUntil(async () => (await committed()).join() === '3,2', 5000, 'the commit');
    assert.deepEqual([...seen].sort(), ['a', 'b', 'c', 'd', 'e']);
  });

  it('retries a retriable error with backoff, then succeeds without dead letters', async () => {
    await append(['a', 'b']);
    const deadLetters = createRecordingDeadLetters();
    let calls = 0;
    start({
      deadLetters,
      handle: async () => {
        calls++;
        if (calls < 3) throw new UnavailableError('kv_unavailable', 'try again');
      },
    });
    await waitUntil(async () => (await committed())[0] === 2, 5000, 'the commit');
    assert.equal(calls, 3);
    assert.equal(deadLetters.sent.length, 0);
  });

  it('isolates a non-retriable poison record: it alone is dead-lettered, the rest are handled and committed', async () => {
    await append(['a', 'poison', 'b', 'c']);
    const deadLetters = createRecordingDeadLetters();
    const handled: string[] = [];
    const batchSizes: number[] = [];
    start({
      deadLetters,
      handle: async (records) => {
        batchSizes.push(records.length);
        if (records.some((r) => r.key === 'poison')) throw new ValidationError('invalid_field', 'bad value');
        handled.push(...records.map((r) => r.key));
      },
    });
    await waitUntil(async () => (await committed())[0] === 4, 5000, 'the commit');
    assert.deepEqual(handled, ['a', 'b', 'c']);
    // The whole batch once (not retried: not retriable), then record by record.
    assert.deepEqual(batchSizes, [4, 1, 1, 1, 1]);
    assert.equal(deadLetters.sent.length, 1);
    const [letter] = deadLetters.sent;
    assert.equal(letter!.record.key, 'poison');
    assert.equal(letter!.record.offset, 1);
    assert.equal(letter!.code, 'invalid_field');
    assert.equal(letter!.reason, 'bad value');
  });

  it('retries a retriable failure past any count until it passes, dead-lettering nothing', async () => {
    await append(['a', 'b']);
    const deadLetters = createRecordingDeadLetters();
    let calls = 0;
    start({
      deadLetters,
      handle: async () => {
        if (++calls <= 8) throw new UnavailableError('log_unavailable', 'broker down');
      },
    });
    await waitUntil(async () => (await committed())[0] === 2, 10_000, 'the commit');
    assert.equal(calls, 9, 'more attempts than the old limit of 5');
    assert.deepEqual(deadLetters.sent, [], 'an outage is not the records\' fault');
  });

  it('dead-letters a non-Engram error as processing_failed', async () => {
    await append(['ok', 'boom']);
    const deadLetters = createRecordingDeadLetters();
    start({
      deadLetters,
      handle: async (records) => {
        if (records.some((r) => r.key === 'boom')) throw new TypeError('cannot read x of undefined');
      },
    });
    await waitUntil(async () => (await committed())[0] === 2, 5000, 'the commit');
    assert.deepEqual(deadLetters.sent.map((d) => [d.record.key, d.code, d.attempts]), [['boom', 'processing_failed', 2]]);
  });

  it('a retriable commit failure is not a crash: the loop goes on', async () => {
    const real = log.consumer({ group: GROUP, topic: TOPIC });
    let failures = 0;
    const flakyCommit: LogConsumer = {
      poll: (o) => real.poll(o),
      assignment: () => real.assignment(),
      commit: async (offsets) => {
        if (failures++ === 0) throw new UnavailableError('log_unavailable', 'broker down');
        await real.commit(offsets);
      },
      close: () => real.close(),
    };
    const handled: string[] = [];
    await append(['a']);
    start({ handle: async (records) => void handled.push(...records.map((r) => r.key)) }, flakyCommit);
    await waitUntil(() => handled.length === 1, 5000, 'the first batch');
    await append(['b']);
    await waitUntil(async () => (await committed())[0] === 2, 5000, 'the second batch committed');
    assert.deepEqual(handled, ['a', 'b']);
  });

  it('stop() resolves, ends `done` and closes the consumer', async () => {
    const consumer = log.consumer({ group: GROUP, topic: TOPIC });
    let handled = 0;
    const running = start({ handle: async (records) => void (handled += records.length) }, consumer);
    await append(['a']);
    await waitUntil(() => handled === 1, 5000, 'the record');
    await running.stop();
    await running.done;
    await assert.rejects(consumer.poll({ timeoutMs: 1 }), (e: unknown) => e instanceof EngramError && e.code === 'consumer_closed');
    // The group has no live member left: a new member gets every partition.
    const next = log.consumer({ group: GROUP, topic: TOPIC });
    assert.deepEqual(next.assignment(), [0, 1]);
    await next.close();
  });

  it('stop() during retries of a retriable failure still closes the consumer and commits nothing', async () => {
    const consumer = log.consumer({ group: GROUP, topic: TOPIC });
    await append(['a', 'b']);
    let calls = 0;
    const running = start(
      {
        backoffMs: 20,
        handle: async () => {
          calls++;
          throw new UnavailableError('kv_unavailable', 'down');
        },
      },
      consumer,
    );
    await waitUntil(() => calls >= 2, 5000, 'a retry');
    await running.stop();
    await running.done; // a stop is not a crash: `done` resolves
    await assert.rejects(consumer.poll({ timeoutMs: 1 }), (e: unknown) => e instanceof EngramError && e.code === 'consumer_closed');
    assert.deepEqual(await committed(), [0, 0], 'an unfinished batch is redelivered, not committed');
  });

  it('a crash (a non-retriable commit failure) rejects `done` and still leaves the group', async () => {
    const real = log.consumer({ group: GROUP, topic: TOPIC });
    let closed = false;
    const failingCommit: LogConsumer = {
      poll: (o) => real.poll(o),
      assignment: () => real.assignment(),
      commit: async () => {
        throw new Error('disk full');
      },
      close: async () => {
        closed = true;
        await real.close();
      },
    };
    await append(['a']);
    const running = start({ handle: async () => undefined }, failingCommit);
    await assert.rejects(running.done, /disk full/);
    assert.equal(closed, true);
  });

  it('with commitAfterHandle: false it leaves committing to handle', async () => {
    const handled: string[] = [];
    start({ commitAfterHandle: false, handle: async (records) => void handled.push(...records.map((r) => r.key)) });
    await append(['a', 'b']);
    await waitUntil(() => handled.length === 2, 5000, 'the first batch');
    // A second batch handed over means the loop went past the point where it would have committed the first.
    await append(['c']);
    await waitUntil(() => handled.length === 3, 5000, 'the second batch');
    assert.deepEqual(await committed(), [0, 0]);
  });

  it('with commitAfterHandle: false it still commits a batch it had to isolate', async () => {
    const deadLetters = createRecordingDeadLetters();
    await append(['a', 'poison', 'b']);
    start({
      commitAfterHandle: false,
      deadLetters,
      handle: async (records) => {
        if (records.some((r) => r.key === 'poison')) throw new ValidationError('invalid_field', 'bad');
      },
    });
    await waitUntil(async () => (await committed())[0] === 3, 5000, 'the commit after isolation');
    assert.deepEqual(deadLetters.sent.map((d) => d.record.key), ['poison']);
  });

  /** A consumer of the test group that counts its commits. */
  function countingConsumer(): { consumer: LogConsumer; commits: () => number } {
    const inner = log.consumer({ group: GROUP, topic: TOPIC });
    let commits = 0;
    const consumer: LogConsumer = {
      poll: (o) => inner.poll(o),
      commit: (offsets) => (commits++, inner.commit(offsets)),
      assignment: () => inner.assignment(),
      close: () => inner.close(),
    };
    return { consumer, commits: () => commits };
  }

  it('with commitEveryMs, commits handled batches together once the log goes quiet', async () => {
    const { consumer, commits } = countingConsumer();
    const handled: string[] = [];
    // One record per batch: the second poll finds the next record at once, so no quiet poll comes between.
    start({ maxRecords: 1, commitEveryMs: 60_000, handle: async (records) => void handled.push(...records.map((r) => r.key)) }, consumer);
    await append(['a', 'b', 'c']);
    await waitUntil(() => handled.length === 3, 5000, 'three batches');
    assert.equal(commits(), 0, 'no commit after each batch');
    await waitUntil(async () => (await committed())[0] === 3, 5000, 'the commit when a poll comes back empty');
    assert.equal(commits(), 1, 'one commit for the three batches');
  });

  it('with commitEveryMs, stop() commits what was handled', async () => {
    const { consumer, commits } = countingConsumer();
    let stopped: Promise<void> | undefined;
    const loop = start(
      {
        commitEveryMs: 60_000,
        handle: async () => {
          stopped = loop.stop(); // the loop ends right after this batch, before any quiet poll
        },
      },
      consumer,
    );
    await append(['a', 'b']);
    await waitUntil(() => stopped !== undefined, 5000, 'the batch');
    await stopped;
    assert.equal(commits(), 1);
    assert.deepEqual(await committed(), [2, 0]);
  });
});

