/**
 * Hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", 2014) packed into one safe
 * integer: `wallMs * 4096 + counter`. Packing keeps timestamps comparable with `<`, storable as an
 * Avro long and sortable in KV keys. The logical counter distinguishes events within one
 * millisecond; when it would reach 4096 the timestamp simply moves into the next millisecond, so
 * the clock stays strictly monotonic at any event rate (it runs ahead of the wall clock until the
 * wall clock catches up).
 *
 * Range: 2^53 / 4096 ms is September 2039; timestamps beyond that stop being safe integers.
 */
import { ValidationError } from './errors.js';

/** Logical ticks per millisecond. */
export const HLC_COUNTER_SIZE = 4096;

export interface HybridClock {
  /** A timestamp for a local event: strictly greater than every value returned or observed so far. */
  now(): number;
  /** Merges a remote timestamp and returns a local one strictly greater than it and than all before. */
  observe(remote: number): number;
}

export interface HybridClockOptions {
  /**
   * Physical clock in epoch milliseconds. Injected so tests can move time, including backwards.
   * @default Date.now
   */
  wallClock?: () => number;
}

export function hlcWallMs(hlc: number): number {
  return Math.floor(hlc / HLC_COUNTER_SIZE);
}

export function hlcCounter(hlc: number): number {
  return hlc % HLC_COUNTER_SIZE;
}

/** The smallest HLC of a wall-clock millisecond (counter 0), e.g. for time-range queries. */
export function hlcFromWallMs(ms: number): number {
  return Math.floor(ms) * HLC_COUNTER_SIZE;
}

function assertHlc(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ValidationError('invalid_hlc', `${what} must be a non-negative safe integer, got ${value}`, { value });
  }
}

/**
 * In packed form the textbook send/receive rules collapse to a max: the new timestamp is the
 * largest of (physical time with counter 0), (last + 1) and, on receive, (remote + 1). Each case of
 * the paper (physical time ahead: counter resets; tie on the wall part: max counter + 1; one
 * side ahead: its counter + 1) is exactly that max.
 */
export function createHybridClock(options: HybridClockOptions = {}): HybridClock {
  const wallClock = options.wallClock ?? Date.now;
  let last = 0;

  function tick(floor: number): number {
    const physical = hlcFromWallMs(wallClock());
    const next = Math.max(physical, last + 1, floor);
    assertHlc(next, 'hybrid clock');
    last = next;
    return next;
  }

  return {
    now: () => tick(0),
    observe(remote: number): number {
      assertHlc(remote, 'remote hlc');
      return tick(remote + 1);
    },
  };
}
