/**
 * Child process for the kill -9 test of lmdb-event-log.unit.spec.ts: appends to `topic` in the log
 * at `dir` forever, four concurrent appends of five records at a time (so commits are batched as
 * in production), and prints `<seq> <partition> <offset>` for every record once its append has
 * resolved. stdout to a pipe is synchronous on Linux, so a printed line was acknowledged first.
 * Usage: node --import tsx lmdb-event-log.crash-child.ts <dir> <topic>
 */
import { createLmdbEventLog } from '@engram/ports';

const [dir, topic] = process.argv.slice(2);
if (dir === undefined || topic === undefined) throw new Error('usage: lmdb-event-log.crash-child.ts <dir> <topic>');

const log = createLmdbEventLog({ path: dir });
await log.ensureTopic({ name: topic, partitions: 2, compacted: true });
let seq = 0;
for (;;) {
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      const batch = Array.from({ length: 5 }, () => {
        const n = seq++;
        return { n, record: { key: `rec-${n}`, value: Buffer.from(`value-${n}`), partition: n % 2 } };
      });
      const results = await log.append(topic, batch.map((b) => b.record));
      process.stdout.write(results.map((r, i) => `${batch[i]!.n} ${r.partition} ${r.offset}\n`).join(''));
    }),
  );
}
