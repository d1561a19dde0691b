/**
 * Temporary directories for a spec file: `tempDir()` makes one, and every one made is removed when
 * the file's tests end (registered with node:test's `after` on first use).
 */
import { after } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const dirs: string[] = [];
let registered = false;

export function tempDir(prefix = 'engram-'): string {
  if (!registered) {
    registered = true;
    after(() => {
      for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
    });
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}
