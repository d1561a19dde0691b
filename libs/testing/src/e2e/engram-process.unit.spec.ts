import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { engramNodeFlags } from './engram-process.js';

const root = new URL('../../../../', import.meta.url).pathname;

describe('the node flags engram runs with', () => {
  it('are read from the bin line, and npm start passes the same ones', () => {
    const flags = engramNodeFlags();
    assert.deepEqual(flags, ['--min-semi-space-size=64', '--max-semi-space-size=64']);
    const scripts = (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts;
    assert.match(scripts.start!, new RegExp(`node ${flags.join(' ')} bin/engram\\.mjs start$`));
  });

  it('give a 64 MiB young generation semi-space to the process and to its worker threads', () => {
    const probe = `
      const { Worker } = require('node:worker_threads');
      const size = () => require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
      console.log(size());
      new Worker("console.log(require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size)", { eval: true });`;
    const out = execFileSync(process.execPath, [...engramNodeFlags(), '-e', probe], { encoding: 'utf8' }).trim().split('\n').map(Number);
    assert.deepEqual(out, [64 * 1024 * 1024, 64 * 1024 * 1024]);
  });

  it('work when bin/engram.mjs is run directly, through its #! line', () => {
    const out = execFileSync(`${root}bin/engram.mjs`, ['config'], { encoding: 'utf8', env: { ...process.env, ENGRAM_LOG_LEVEL: 'error' } });
    assert.match(out, /`ENGRAM_PORT`/);
  });
});
