#!/usr/bin/env node
// One test command for the whole repo: finds *.spec.ts files and runs them with node's test runner
// (through tsx), so the closing summary is node's own. Optional arguments filter by path or by kind:
//   node scripts/run-tests.mjs                 every test
//   node scripts/run-tests.mjs unit            only *.unit.spec.ts
//   node scripts/run-tests.mjs libs/core       only files under libs/core
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const kinds = new Set(['unit', 'int', 'e2e']);
const args = process.argv.slice(2);
const kindFilter = args.filter((a) => kinds.has(a));
const pathFilter = args.filter((a) => !kinds.has(a));

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full, out);
    else if (name.endsWith('.spec.ts')) out.push(relative(root, full));
  }
  return out;
}

const files = ['apps', 'libs', 'bench']
  .flatMap((d) => { try { return walk(join(root, d), []); } catch { return []; } })
  .filter((f) => kindFilter.length === 0 || kindFilter.some((k) => f.endsWith(`.${k}.spec.ts`)))
  .filter((f) => pathFilter.length === 0 || pathFilter.some((p) => f.startsWith(p)))
  .sort();

if (files.length === 0) {
  console.error('run-tests: no test files matched', args.join(' '));
  process.exit(1);
}

const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', '--test-timeout=300000', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
process.exit(result.status ?? 1);
