/**
 * Preload that records a V8 CPU profile of the process it is loaded into, for the benchmarks'
 * `--cpu-prof <dir>` (Node refuses `--cpu-prof` in NODE_OPTIONS, `--import` it allows):
 *
 *   NODE_OPTIONS="--import /abs/path/bench/lib/cpu-profile.mjs" BENCH_CPU_PROF_DIR=/tmp/prof engram …
 *
 * The profile is written to `$BENCH_CPU_PROF_DIR/<pid>-<thread>.cpuprofile` when the process exits; the
 * inspector session of the same thread answers synchronously, so an `exit` handler can stop it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';

const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  process.on('exit', () => {
    session.post('Profiler.stop', (error, result) => {
      if (error) return;
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${process.pid}-${threadId}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
