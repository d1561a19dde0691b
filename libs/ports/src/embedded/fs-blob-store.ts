/**
 * The single-node BlobStore: objects are files under a root directory, `a/b/c` at `<root>/a/b/c`.
 *
 * A put is atomic and durable: the bytes go to a temp file in `<root>/.staging` (same file system,
 * so the rename is atomic), which is fsynced, renamed into place, and the directory entries on the
 * way are fsynced too. A reader therefore sees the old object or the new one, never a torn one,
 * and a crash after `put` resolved cannot lose it.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { ConflictError, EngramError, ValidationError } from '@engram/core';
import type { BlobStore } from '../blob-store.js';

export interface FsBlobStoreOptions {
  /** Directory holding the objects; created if missing. */
  root: string;
}

/** Temp files live here; the name is reserved as a first path segment. */
const STAGING = '.staging';

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** Checks a '/'-separated relative object path; a prefix may be empty or end in '/'. */
function checkPath(path: string, kind: 'path' | 'prefix'): string[] {
  const invalid = (why: string): never => {
    throw new ValidationError('invalid_blob_path', `blob ${kind} ${JSON.stringify(path)}: ${why}`);
  };
  if (typeof path !== 'string') return invalid('must be a string');
  if (kind === 'prefix' && path === '') return [];
  if (path.startsWith('/')) invalid('must be relative');
  if (path.includes('\\') || path.includes('\0')) invalid('must not contain "\\" or NUL');
  const segments = path.split('/');
  // A prefix may end inside a segment or right after a '/', so its last segment may be empty.
  const whole = kind === 'prefix' ? segments.slice(0, -1) : segments;
  for (const segment of whole) {
    if (segment === '') invalid('has an empty segment');
    if (segment === '.' || segment === '..') invalid('must not contain "." or ".." segments');
  }
  const last = segments[segments.length - 1] as string;
  if (kind === 'prefix' && (last === '.' || last === '..')) invalid('must not contain "." or ".." segments');
  if (segments[0] === STAGING && (segments.length > 1 || kind === 'path')) invalid(`"${STAGING}" is reserved`);
  return segments;
}

async function fsync(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Sorted the way object stores sort: by the UTF-8 bytes of the path. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function createFsBlobStore(options: FsBlobStoreOptions): BlobStore {
  const root = options.root;
  const staging = join(root, STAGING);
  let closed = false;

  function resolve(path: string, kind: 'path' | 'prefix' = 'path'): string {
    if (closed) throw new EngramError('blob_store_closed', 'the blob store is closed');
    return join(root, ...checkPath(path, kind));
  }

  /** Translates the errors a path that is a directory (or under a file) produces. */
  function conflict(path: string, error: unknown): never {
    const code = errorCode(error);
    if (code === 'EISDIR' || code === 'ENOTDIR' || code === 'EEXIST' || code === 'ENOTEMPTY') {
      throw new ConflictError('blob_path_conflict', `blob path ${path} collides with an existing object or folder`, { path });
    }
    throw new EngramError('blob_io_failed', `blob ${path}: ${(error as Error).message}`, { cause: error, retriable: true });
  }

  async function walk(dir: string, out: string[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return;
      throw error;
    }
    for (const entry of entries) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (full !== staging) await walk(full, out);
      } else if (entry.isFile()) {
        out.push(relative(root, full).split(sep).join('/'));
      }
    }
  }

  return {
    async put(path, data) {
      // contentType has nowhere to live in a plain file and nothing reads it back: ignored.
      const target = resolve(path);
      const temp = join(staging, randomUUID());
      try {
        await mkdir(staging, { recursive: true });
        const handle = await open(temp, 'wx');
        try {
          await handle.writeFile(data);
          await handle.sync();
        } finally {
          await handle.close();
        }
        const firstCreated = await mkdir(dirname(target), { recursive: true });
        await rename(temp, target);
        // The new entry is durable once its directory is; new directories need their parents too.
        const stop = firstCreated === undefined ? dirname(target) : dirname(firstCreated);
        for (let dir = dirname(target); ; dir = dirname(dir)) {
          await fsync(dir);
          if (dir === stop || dir === root) break;
        }
      } catch (error) {
        await rm(temp, { force: true });
        conflict(path, error);
      }
    },

    async get(path) {
      const target = resolve(path);
      try {
        return await readFile(target);
      } catch (error) {
        const code = errorCode(error);
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
        return conflict(path, error);
      }
    },

    async list(prefix) {
      resolve(prefix, 'prefix');
      // Walk only the deepest folder the prefix names in full, then filter by the string prefix.
      const folder = prefix.slice(0, prefix.lastIndexOf('/') + 1);
      const paths: string[] = [];
      await walk(join(root, ...folder.split('/').filter((s) => s !== '')), paths);
      return paths.filter((p) => p.startsWith(prefix)).sort(compareUtf8);
    },

    async delete(path) {
      const target = resolve(path);
      try {
        // Empty folders are left behind on purpose: removing them would race a concurrent put
        // that has just created the folder and is about to rename into it.
        await unlink(target);
      } catch (error) {
        const code = errorCode(error);
        // Nothing there, or a folder (which is not an object): either way no object to delete.
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return;
        conflict(path, error);
      }
    },

    async close() {
      closed = true;
    },
  };
}
