/** Wall-clock timing in milliseconds, from the monotonic high-resolution clock. */
import { performance } from 'node:perf_hooks';

export function nowMs(): number {
  return performance.now();
}

/** Runs `fn` once and returns its result with the elapsed milliseconds (awaiting a promise). */
export async function timed<T>(fn: () => T | Promise<T>): Promise<{ ms: number; result: T }> {
  const start = performance.now();
  const result = await fn();
  return { ms: performance.now() - start, result };
}

/**
 * Times `count` sequential calls of `op(i)` one by one: per-call latencies plus the loop's total, so
 * the caller can report p50/p99 and throughput from the same samples.
 */
export async function timeEach(count: number, op: (i: number) => unknown): Promise<{ latenciesMs: number[]; totalMs: number }> {
  const latenciesMs = new Array<number>(count);
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const r = op(i);
    // Only await real promises: an extra microtask turn per sync call would tax the raw library.
    if (r instanceof Promise) await r;
    latenciesMs[i] = performance.now() - t0;
  }
  return { latenciesMs, totalMs: performance.now() - start };
}
