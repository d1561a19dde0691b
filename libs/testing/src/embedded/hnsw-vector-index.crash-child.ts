/**
 * Child process for the crash test in hnsw-vector-index.unit.spec.ts: opens the index at the
 * directory given as last argument, writes, prints `durable` once every write resolved, then waits
 * to be killed with SIGKILL, so the index never gets to close (and snapshot) cleanly.
 *
 * Run as: node --import tsx hnsw-vector-index.crash-child.ts <dir>, or imported by a script that
 * registered tsx itself (as bin/engram.mjs does) with <dir> as its last argument.
 */
import { createHnswVectorIndex } from '@engram/ports';
import type { VectorItem } from '@engram/ports';

const dir = process.argv.at(-1);
if (dir === undefined || dir.endsWith('.ts')) throw new Error('usage: hnsw-vector-index.crash-child.ts <dir>');

/** A pseudo-random 16-d vector derived from `seed`; the spec has the same function to check results. */
function vectorFor(seed: string): Float32Array {
  let state = [...seed].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0, 2166136261);
  return Float32Array.from({ length: 16 }, () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5);
}

function item(id: string, version: number): VectorItem {
  return { id, vector: vectorFor(`${id}@${version}`), version, fields: { tenant: 't', namespace: 'crash', kind: 'note', tags: [], updatedAt: version } };
}

// A small snapshotEvery makes background snapshots happen between these writes, so recovery has to
// combine a snapshot taken here with rows committed after it (or a snapshot cut short by the kill).
const index = await createHnswVectorIndex({
  path: dir,
  exactSearchBelow: 0,
  snapshotEvery: 4,
  onSnapshotError: (error) => process.stderr.write(`snapshot failed: ${String(error)}\n`),
});
for (let i = 0; i < 9; i++) await index.upsert('crash', [item(`after-${i}`, 1)]);
await index.delete('crash', [{ id: 'before-0', version: 2 }]);
await index.upsert('crash', [item('before-1', 2)]);
process.stdout.write('durable\n');
setInterval(() => undefined, 60_000);
