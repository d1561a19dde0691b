/**
 * CPU time of a process (user + system, every thread): another one from /proc on Linux, or this
 * one. On cores shared with other work a cost per operation holds up better than a rate: a rate
 * falls when a neighbour takes the CPU, the CPU an operation needs hardly moves.
 */
import { readFileSync } from 'node:fs';

/** Linux reports process times in clock ticks of 1/100 s (`getconf CLK_TCK` on x86-64). */
const MS_PER_TICK = 10;

/** CPU ms used so far by process `pid` (10 ms resolution). */
export function processCpuMs(pid: number): number {
  // utime and stime are fields 14 and 15; counting starts after the parenthesised command name.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
}

/** CPU ms this process has used so far, every thread (a worker thread's too). */
export function ownCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * Waits until the process whose CPU `cpuMs` reads has used at most `maxShare` of one core over a
 * `windowMs` window (its background work after a burst — indexes, followers — is done), or
 * `timeoutMs` has passed; resolves with the ms waited.
 */
export async function waitUntilIdle(cpuMs: () => number, options: { maxShare?: number; windowMs?: number; timeoutMs?: number } = {}): Promise<number> {
  const { maxShare = 0.1, windowMs = 1_000, timeoutMs = 60_000 } = options;
  const start = Date.now();
  for (;;) {
    const before = cpuMs();
    await new Promise((r) => setTimeout(r, windowMs));
    if (cpuMs() - before <= maxShare * windowMs || Date.now() - start > timeoutMs) return Date.now() - start;
  }
}
