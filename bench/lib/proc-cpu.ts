/**
 * CPU time of another process (user + system, every thread), from /proc on Linux. On cores shared
 * with other work a cost per operation holds up better than a rate: a rate falls when a neighbour
 * takes the CPU, the CPU an operation needs hardly moves.
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
