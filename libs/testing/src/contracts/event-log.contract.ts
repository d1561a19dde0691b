/**
 * The EventLog contract: the same assertions for every implementation (embedded LMDB, Kafka).
 * Topic and group names are unique per test, so the suite also runs against a shared broker.
 * Consumer tests poll until what they expect has arrived (a broker's rebalance takes a while)
 * instead of assuming that the first poll already has it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { EventLog, LogConsumer, LogRecord, StoredRecord } from '@engram/ports';

/** Makes a fresh log; `cleanup` closes it and removes whatever the factory created. */
export type EventLogFactory = () => Promise<{ log: EventLog; cleanup: () => Promise<void> }>;

async function rejectsWithCode(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal((error as { code?: unknown }).code, code, `expected code ${code}, got ${String(error)}`);
    if (message) assert.match(String((error as Error).message), message);
    return true;
  });
}

const rec = (key: string, partition: number, value: string | null = `v-${key}`): LogRecord => ({
  key,
  partition,
  value: value === null ? null : Buffer.from(value),
});

/** Polls the consumers in turn until `want` records arrived in total; fails after `timeoutMs`. */
async function collect(consumers: LogConsumer[], want: number, timeoutMs = 15_000): Promise<Map<LogConsumer, StoredRecord[]>> {
  const got = new Map<LogConsumer, StoredRecord[]>(consumers.map((c) => [c, []]));
  const deadline = Date.now() + timeoutMs;
  let total = 0;
  while (total < want) {
    if (Date.now() > deadline) assert.fail(`received ${total} of ${want} records before the timeout`);
    for (const c of consumers) {
      const batch = await c.poll({ timeoutMs: 100, maxRecords: want - total });
      got.get(c)?.push(...batch);
      total += batch.length;
    }
  }
  return got;
}

/** Polls (discarding nothing: the consumer must be idle) until `check` holds. */
async function pollUntil(consumers: LogConsumer[], check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    for (const c of consumers) assert.deepEqual(await c.poll({ timeoutMs: 50 }), [], 'no records expected while waiting');
  }
}

/** Waits until `check` holds; an atomic append's effects may become visible a moment after it resolves. */
async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const offsetsOf = (records: StoredRecord[]): number[] => records.map((r) => r.offset);

export function eventLogContract(name: string, factory: EventLogFactory): void {
  describe(`EventLog contract: ${name}`, () => {
    let log: EventLog;
    let cleanup: () => Promise<void>;
    const run = randomBytes(4).toString('hex');
    let counter = 0;
    const unique = (label: string): string => `contract-${run}-${++counter}-${label}`;
    const topic = async (label: string, partitions: number, compacted = true): Promise<string> => {
      const t = unique(label);
      await log.ensureTopic({ name: t, partitions, compacted });
      return t;
    };

    before(async () => {
      ({ log, cleanup } = await factory());
    });
    after(async () => {
      await cleanup();
    });

    it('assigns consecutive offsets per partition and reads them back in order', async () => {
      const t = await topic('order', 2);
      const batch = [...Array.from({ length: 12 }, (_, i) => rec(`a${i}`, 0)), rec('b0', 1), rec('b1', 1, null)];
      batch[0] = { ...batch[0]!, headers: { trace: 'x-1' }, timestamp: 1_700_000_000_000 };
      const results = await log.append(t, batch);
      assert.deepEqual(results.map((r) => [r.partition, r.offset, r.duplicate]), [
        ...Array.from({ length: 12 }, (_, i) => [0, i, false]),
        [1, 0, false],
        [1, 1, false],
      ]);
      assert.deepEqual((await log.append(t, [rec('a12', 0)]))[0], { partition: 0, offset: 12, duplicate: false });
      const p0 = await log.read(t, 0, 0, 100);
      assert.deepEqual(offsetsOf(p0), Array.from({ length: 13 }, (_, i) => i));
      assert.deepEqual(p0.map((r) => r.key), Array.from({ length: 13 }, (_, i) => `a${i}`));
      assert.equal(p0[0]?.value?.toString(), 'v-a0');
      assert.deepEqual(p0[0]?.headers, { trace: 'x-1' });
      assert.equal(p0[0]?.timestamp, 1_700_000_000_000);
      assert.equal(p0[0]?.topic, t);
      assert.deepEqual(offsetsOf(await log.read(t, 0, 9, 3)), [9, 10, 11]);
      const p1 = await log.read(t, 1, 0, 10);
      assert.deepEqual(p1.map((r) => [r.offset, r.key, r.value?.toString() ?? null]), [[0, 'b0', 'v-b0'], [1, 'b1', null]]);
      assert.deepEqual(await log.read(t, 1, 2, 10), []);
    });

    it('gives concurrent appends distinct offsets, each batch contiguous', async () => {
      const t = await topic('concurrent', 1);
      const all = await Promise.all(Array.from({ length: 20 }, (_, b) => log.append(t, Array.from({ length: 5 }, (_, i) => rec(`k${b}-${i}`, 0)))));
      for (const results of all) {
        const first = results[0]!.offset;
        assert.deepEqual(results.map((r) => r.offset), [first, first + 1, first + 2, first + 3, first + 4]);
      }
      assert.deepEqual(all.flat().map((r) => r.offset).sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
      assert.deepEqual(await log.endOffsets(t), [100]);
    });

    it('stores nothing of a batch that holds an invalid record', async () => {
      const t = await topic('atomic', 2);
      await rejectsWithCode(log.append(t, [rec('ok', 0), rec('bad', 2)]), 'invalid_partition');
      await rejectsWithCode(log.append(t, [rec('ok', 1), rec('bad', -1)]), 'invalid_partition');
      assert.deepEqual(await log.endOffsets(t), [0, 0]);
      assert.deepEqual(await log.read(t, 0, 0, 10), []);
      await rejectsWithCode(log.append(unique('missing'), [rec('x', 0)]), 'topic_not_found');
    });

    it('skips duplicate keys with dedupe, within a batch and across batches', async () => {
      const t = await topic('dedupe', 2);
      const first = await log.append(t, [rec('a', 0), rec('b', 1), rec('a', 0, 'again')], { dedupe: true });
      assert.deepEqual(first, [
        { partition: 0, offset: 0, duplicate: false },
        { partition: 1, offset: 0, duplicate: false },
        { partition: 0, offset: 0, duplicate: true },
      ]);
      const second = await log.append(t, [rec('b', 1), rec('c', 0)], { dedupe: true });
      assert.deepEqual(second, [
        { partition: 1, offset: 0, duplicate: true },
        { partition: 0, offset: 1, duplicate: false },
      ]);
      assert.deepEqual((await log.read(t, 0, 0, 10)).map((r) => [r.key, r.value?.toString()]), [['a', 'v-a'], ['c', 'v-c']]);
      // A partition that got only duplicates got nothing.
      assert.deepEqual((await log.read(t, 1, 0, 10)).map((r) => r.key), ['b']);
      // Without dedupe the same key is appended again (a new version of the key).
      assert.deepEqual(await log.append(t, [rec('a', 0, 'v2')]), [{ partition: 0, offset: 2, duplicate: false }]);
    });

    it('commits consumer offsets atomically with an append', async () => {
      const input = await topic('in', 2);
      const output = await topic('out', 1);
      const group = unique('group');
      await log.append(input, [rec('x', 0), rec('y', 0), rec('z', 1)]);
      await log.append(output, [rec('x', 0)], { commit: { group, topic: input, offsets: [{ partition: 0, offset: 2 }, { partition: 1, offset: 1 }] } });
      // Kafka writes a transaction's commit markers just after the commit returns: poll briefly.
      await eventually(async () => JSON.stringify(await log.committedOffsets(group, input)) === '[2,1]', 'the committed offsets [2,1]');
      await rejectsWithCode(
        log.append(output, [rec('bad', 7)], { commit: { group, topic: input, offsets: [{ partition: 0, offset: 3 }] } }),
        'invalid_partition',
      );
      assert.deepEqual(await log.committedOffsets(group, input), [2, 1], 'a failed append commits nothing');
      // Read, not endOffsets: Kafka's transaction markers take offsets of their own.
      assert.deepEqual((await log.read(output, 0, 0, 10)).map((r) => r.key), ['x'], 'the failed append stored nothing');
    });

    it('commits consumer offsets with a deduplicated append whose records are all duplicates', async () => {
      // The sequencer's case: a batch of re-sent events appends nothing, yet its input is consumed.
      const input = await topic('in-dup', 1);
      const output = await topic('out-dup', 1);
      const group = unique('group');
      await log.append(input, [rec('x', 0), rec('x', 0)]);
      await log.append(output, [rec('x', 0)], { dedupe: true, commit: { group, topic: input, offsets: [{ partition: 0, offset: 1 }] } });
      const again = await log.append(output, [rec('x', 0)], { dedupe: true, commit: { group, topic: input, offsets: [{ partition: 0, offset: 2 }] } });
      assert.deepEqual(again, [{ partition: 0, offset: 0, duplicate: true }]);
      await eventually(async () => JSON.stringify(await log.committedOffsets(group, input)) === '[2]', 'the committed offsets [2]');
      assert.deepEqual((await log.read(output, 0, 0, 10)).map((r) => r.key), ['x'], 'the duplicate stored nothing');
    });

    it('resumes a group from its committed offset', async () => {
      const t = await topic('resume', 1);
      const group = unique('group');
      await log.append(t, Array.from({ length: 10 }, (_, i) => rec(`r${i}`, 0)));
      const first = log.consumer({ group, topic: t });
      const got = (await collect([first], 4)).get(first)!;
      assert.deepEqual(offsetsOf(got).slice(0, 4), [0, 1, 2, 3]);
      await first.commit([{ partition: 0, offset: 4 }]);
      await first.close();
      const second = log.consumer({ group, topic: t });
      const rest = (await collect([second], 6)).get(second)!;
      assert.deepEqual(offsetsOf(rest), [4, 5, 6, 7, 8, 9]);
      await second.close();
    });

    it('splits partitions between two members and hands them over when one leaves', async () => {
      const t = await topic('split', 4);
      const group = unique('group');
      const a = log.consumer({ group, topic: t });
      const b = log.consumer({ group, topic: t });
      await pollUntil([a, b], () => a.assignment().length > 0 && b.assignment().length > 0, 'both members to get partitions');
      assert.deepEqual([...a.assignment(), ...b.assignment()].sort(), [0, 1, 2, 3], 'disjoint and complete');
      await log.append(t, [0, 1, 2, 3].map((p) => rec(`first-${p}`, p)));
      const got = await collect([a, b], 4);
      for (const c of [a, b]) {
        const mine = new Set(c.assignment());
        assert.ok(got.get(c)!.every((r) => mine.has(r.partition)), 'a member only receives its own partitions');
        await c.commit(got.get(c)!.map((r) => ({ partition: r.partition, offset: r.offset + 1 })));
      }
      await b.close();
      await pollUntil([a], () => a.assignment().length === 4, 'the remaining member to take every partition');
      await log.append(t, [0, 1, 2, 3].map((p) => rec(`second-${p}`, p)));
      const taken = (await collect([a], 4)).get(a)!;
      assert.deepEqual(taken.map((r) => r.key).sort(), ['second-0', 'second-1', 'second-2', 'second-3']);
      await a.close();
    });

    it('wakes a waiting poll soon after an append', async () => {
      const t = await topic('wake', 1);
      const c = log.consumer({ group: unique('group'), topic: t });
      await pollUntil([c], () => c.assignment().length === 1, 'the assignment');
      const waiting = c.poll({ timeoutMs: 5000 });
      await new Promise((resolve) => setTimeout(resolve, 30)); // let the poll start waiting
      const started = performance.now();
      await log.append(t, [rec('wake', 0)]);
      const records = await waiting;
      const elapsed = performance.now() - started;
      assert.deepEqual(records.map((r) => r.key), ['wake']);
      assert.ok(elapsed < 200, `poll returned ${elapsed.toFixed(0)} ms after the append started`);
      await c.close();
    });

    it('starts a new group at the end when fromBeginning is false', async () => {
      const t = await topic('latest', 1);
      await log.append(t, [rec('old', 0)]);
      const c = log.consumer({ group: unique('group'), topic: t, fromBeginning: false });
      await pollUntil([c], () => c.assignment().length === 1, 'the assignment');
      await log.append(t, [rec('new', 0)]);
      assert.deepEqual((await collect([c], 1)).get(c)!.map((r) => r.key), ['new']);
      await c.close();
    });

    it('reports end offsets and committed offsets per partition', async () => {
      const t = await topic('offsets', 3);
      const group = unique('group');
      assert.deepEqual(await log.endOffsets(t), [0, 0, 0]);
      assert.deepEqual(await log.committedOffsets(group, t), [0, 0, 0]);
      await log.append(t, [rec('a', 1), rec('b', 1), rec('c', 2)]);
      assert.deepEqual(await log.endOffsets(t), [0, 2, 1]);
      const c = log.consumer({ group, topic: t });
      await c.commit([{ partition: 1, offset: 2 }]);
      assert.deepEqual(await log.committedOffsets(group, t), [0, 2, 0]);
      await c.close();
      await rejectsWithCode(log.endOffsets(unique('missing')), 'topic_not_found');
      await rejectsWithCode(log.read(t, 3, 0, 10), 'invalid_partition');
    });

    it('accepts a matching topic spec again and rejects a different one', async () => {
      const t = await topic('spec', 2, true);
      await log.ensureTopic({ name: t, partitions: 2, compacted: true });
      await rejectsWithCode(log.ensureTopic({ name: t, partitions: 3, compacted: true }), 'topic_config_mismatch', /partitions/);
      await rejectsWithCode(log.ensureTopic({ name: t, partitions: 2, compacted: false }), 'topic_config_mismatch', /compacted/);
      assert.deepEqual(await log.endOffsets(t), [0, 0], 'the topic is unchanged');
    });
  });
}
