/**
 * HNSW snapshot files. A snapshot only shortens recovery (LMDB holds the truth), so it is written
 * atomically (temp file, fsync, rename, fsync of the directory) and identified by its length and
 * sha256: a file that does not match what LMDB recorded is never handed to hnswlib, whose loader
 * trusts the bytes it reads.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import hnswlib from 'hnswlib-node';
import type { HierarchicalNSW } from 'hnswlib-node';
import type { SnapshotMeta } from './hnsw-store.js';

export function snapshotFile(dir: string, collection: string): string {
  return join(dir, `${collection}.hnsw`);
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes `index` as the snapshot of `collection` covering changes up to `seq`. The caller must keep
 * the index unchanged until this resolves (hnswlib serialises it on a worker thread).
 */
export async function writeSnapshot(dir: string, collection: string, index: HierarchicalNSW, seq: number): Promise<SnapshotMeta> {
  await mkdir(dir, { recursive: true });
  const file = snapshotFile(dir, collection);
  const temp = `${file}.tmp`;
  try {
    await index.writeIndex(temp);
    await fsyncPath(temp);
    const [sha256, info] = await Promise.all([sha256File(temp), stat(temp)]);
    await rename(temp, file);
    await fsyncPath(dir);
    return { seq, bytes: info.size, sha256 };
  } finally {
    await rm(temp, { force: true });
  }
}

/**
 * Loads the snapshot described by `meta`, or returns undefined when it is missing, does not match
 * (a crash between the rename and the LMDB update leaves a newer file than recorded: rebuilding is
 * then the safe choice), or cannot be read.
 */
export async function readSnapshot(dir: string, collection: string, meta: SnapshotMeta, dims: number): Promise<HierarchicalNSW | undefined> {
  const file = snapshotFile(dir, collection);
  try {
    const info = await stat(file);
    if (info.size !== meta.bytes || (await sha256File(file)) !== meta.sha256) return undefined;
    const index = new hnswlib.HierarchicalNSW('cosine', dims);
    await index.readIndex(file);
    return index.getNumDimensions() === dims ? index : undefined;
  } catch {
    // Missing or unreadable: the caller rebuilds from LMDB, which is always possible.
    return undefined;
  }
}
