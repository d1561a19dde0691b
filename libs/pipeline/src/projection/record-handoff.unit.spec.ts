import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createLmdbEventLog } from '@engram/ports';
import { tempDir } from '../pipeline.spec-helper.js';
import { createRecordHandoff, recordHandoffFor, type RecordSummary } from './record-handoff.js';

const summary = (n: number): RecordSummary => ({ entityId: `acme|notes|k${n}`, deleted: false, changesText: n % 2 === 0, vectors: n % 3 === 0, sourceOffset: 100 + n });

describe('record hand-off', () => {
  it('answers what was published, and nothing else', () => {
    const handoff = createRecordHandoff();
    assert.equal(handoff.get(0, 0), undefined);
    handoff.publish(new Map([[0, 1]]), [
      { partition: 0, offset: 0, summary: summary(0) },
      { partition: 0, offset: 1, summary: null },
    ]);
    assert.deepEqual(handoff.get(0, 0), summary(0));
    assert.equal(handoff.get(0, 1), null, 'an undecodable record is known as such');
    assert.equal(handoff.get(1, 0), undefined, 'partitions are apart');
  });

  it('drops the oldest summaries, across partitions, beyond its bound', () => {
    const handoff = createRecordHandoff({ maxEntries: 3 });
    for (let offset = 0; offset < 3; offset++) {
      handoff.publish(new Map([[offset % 2, offset]]), [{ partition: offset % 2, offset, summary: summary(offset) }]);
    }
    handoff.publish(new Map([[1, 3]]), [{ partition: 1, offset: 3, summary: summary(3) }]);
    assert.equal(handoff.get(0, 0), undefined, 'the oldest went first');
    assert.deepEqual([handoff.get(1, 1), handoff.get(0, 2), handoff.get(1, 3)], [summary(1), summary(2), summary(3)]);
  });

  it('waits for the projector only while one is working on the partition', async () => {
    const handoff = createRecordHandoff();
    assert.equal(await handoff.waitPassed(0, 5, 1000), false, 'no projector has published: no wait');
    handoff.publish(new Map([[0, 3]]), []);
    assert.equal(await handoff.waitPassed(0, 3, 1000), true, 'already passed');
    const waiting = handoff.waitPassed(0, 5, 5000);
    handoff.publish(new Map([[0, 5]]), [{ partition: 0, offset: 5, summary: summary(5) }]);
    assert.equal(await waiting, true);

    // A projector that stops publishing costs one bounded wait, then none until it publishes again.
    const started = Date.now();
    assert.equal(await handoff.waitPassed(0, 9, 30), false);
    assert.ok(Date.now() - started >= 25, 'the first wait lasts its bound');
    assert.equal(await handoff.waitPassed(0, 9, 5000), false, 'later waits give up at once');
    // Publishing for another partition (this projector lost partition 0 in a rebalance) changes nothing.
    handoff.publish(new Map([[1, 4]]), []);
    assert.equal(await handoff.waitPassed(0, 9, 5000), false);
    handoff.publish(new Map([[0, 9]]), []);
    assert.equal(await handoff.waitPassed(0, 9, 5000), true);
  });

  it('is one per log and topic', async () => {
    const dirs = [tempDir(), tempDir()];
    const log = createLmdbEventLog({ path: dirs[0]! });
    const other = createLmdbEventLog({ path: dirs[1]! });
    try {
      assert.equal(recordHandoffFor(log, 'memory-enriched'), recordHandoffFor(log, 'memory-enriched'));
      assert.notEqual(recordHandoffFor(log, 'memory-enriched'), recordHandoffFor(log, 'other-topic'));
      assert.notEqual(recordHandoffFor(log, 'memory-enriched'), recordHandoffFor(other, 'memory-enriched'));
    } finally {
      await log.close();
      await other.close();
      for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
