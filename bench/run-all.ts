/**
 * Runs every `bench/*.bench.ts` in sequence, each in its own Node process (a fresh heap, and no
 * native memory left over from the previous one), passing the same flags to all:
 *
 *   npm run bench                  full sizes, 5 runs each
 *   npm run bench -- --quick       small sizes, 1 run each
 *   npm run bench -- --only vector only benches whose file name contains "vector" (comma-separated list)
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const argv = process.argv.slice(2);
const onlyAt = argv.indexOf('--only');
const filters = onlyAt === -1 ? [] : (argv[onlyAt + 1] ?? '').split(',').filter((f) => f !== '');
const flags = onlyAt === -1 ? argv : [...argv.slice(0, onlyAt), ...argv.slice(onlyAt + 2)];
const benches = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts') && (filters.length === 0 || filters.some((p) => f.includes(p))))
  .sort();

if (benches.length === 0) {
  console.error(`run-all: no bench matched ${filters.join(' ')}`);
  process.exit(1);
}

const failed: string[] = [];
for (const file of benches) {
  console.log(`\n===== ${file} ${flags.join(' ')} =====`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(dir, file), ...flags], { stdio: 'inherit' });
  if (result.status !== 0) failed.push(file);
}
if (failed.length > 0) {
  console.error(`\nrun-all: failed: ${failed.join(', ')}`);
  process.exit(1);
}
