/**
 * The two CRDTs of Engram: a PN-counter and an OR-set whose causal context is the HLC.
 *
 * Why applying the same events in any order gives deep-equal state:
 *
 * - PN-counter: `p[actor]` is the sum of that actor's positive deltas and `n[actor]` of the
 *   magnitudes of its negative ones. Integer addition is commutative and associative, so every
 *   order of the same increments produces the same sums. Zero entries are never stored and keys are
 *   kept sorted, so equal sums mean deep-equal (and identically serialised) state.
 *
 * - OR-set: for each element the state is exactly
 *     removedAt[e] = max HLC of the removes of e, and
 *     adds[e]      = { `${hlc}:${eventId}` of every add of e with hlc > removedAt[e] }, sorted.
 *   Both are functions of the *set* of events seen, not of their order: `max` is commutative,
 *   associative and idempotent, and the filtered union is too, because a remove only raises the
 *   threshold (dropping the tags below it, which any later-arriving older add would also be dropped
 *   by) and an add is kept or dropped by comparing with the same final threshold whichever arrives
 *   first. A remove at t therefore removes the adds it could have seen (hlc < t, and = t as a
 *   deterministic tie-break) while adds with hlc > t — concurrent with or after the remove — survive:
 *   add-wins. Replaying a delivered event again is harmless (tags are unique per event).
 */
import { ValidationError } from './errors.js';
import { compareStrings, ownGet, sortedRecord, sortedUnique, withEntry } from './records.js';
import type { OrSetState, PnCounterState } from './state.js';

function sum(values: Record<string, number>): number {
  let total = 0;
  for (const value of Object.values(values)) total += value;
  return total;
}

/**
 * Adds `delta` (a safe integer, may be negative) for `actor`. Throws `counter_overflow` rather than
 * silently losing precision past Number.MAX_SAFE_INTEGER.
 */
export function counterApply(state: PnCounterState | undefined, actor: string, delta: number): PnCounterState {
  const current = state ?? { p: {}, n: {} };
  if (!Number.isSafeInteger(delta)) {
    throw new ValidationError('invalid_delta', `counter delta must be a safe integer, got ${delta}`, { field: 'delta' });
  }
  if (delta === 0) return current;
  const side = delta > 0 ? 'p' : 'n';
  const next = (ownGet(current[side], actor) ?? 0) + Math.abs(delta);
  if (!Number.isSafeInteger(next) || !Number.isSafeInteger(sum(current[side]) + Math.abs(delta))) {
    throw new ValidationError('counter_overflow', `counter for ${actor} would exceed ${Number.MAX_SAFE_INTEGER}`, { field: 'delta' });
  }
  const updated = withEntry(current[side], actor, next);
  return side === 'p' ? { p: updated, n: current.n } : { p: current.p, n: updated };
}

export function counterValue(state: PnCounterState | undefined): number {
  return state === undefined ? 0 : sum(state.p) - sum(state.n);
}

/** The HLC part of an add tag (`${hlc}:${eventId}`; the HLC has no ':' so the first one splits). */
function tagHlc(tag: string): number {
  return Number(tag.slice(0, tag.indexOf(':')));
}

/** Tags ordered by HLC, then event id, so the list also reads in causal order. */
function compareTags(a: string, b: string): number {
  return tagHlc(a) - tagHlc(b) || compareStrings(a, b);
}

const EMPTY_SET: OrSetState = { adds: {}, removedAt: {} };

/** Adds `elements` with the tag of this event; an add at or below an element's tombstone is dominated and dropped. */
export function orSetAdd(state: OrSetState | undefined, elements: readonly string[], hlc: number, eventId: string): OrSetState {
  const current = state ?? EMPTY_SET;
  const tag = `${hlc}:${eventId}`;
  const adds = new Map(Object.entries(current.adds));
  for (const element of sortedUnique(elements)) {
    const removedAt = ownGet(current.removedAt, element);
    if (removedAt !== undefined && hlc <= removedAt) continue;
    const tags = adds.get(element) ?? [];
    if (!tags.includes(tag)) adds.set(element, [...tags, tag].sort(compareTags));
  }
  return { adds: sortedRecord(adds), removedAt: current.removedAt };
}

/** Removes `elements` as of `hlc`: drops their add tags with hlc ≤ the new tombstone. */
export function orSetRemove(state: OrSetState | undefined, elements: readonly string[], hlc: number): OrSetState {
  const current = state ?? EMPTY_SET;
  const adds = new Map(Object.entries(current.adds));
  const removedAt = new Map(Object.entries(current.removedAt));
  for (const element of sortedUnique(elements)) {
    const tombstone = Math.max(removedAt.get(element) ?? hlc, hlc);
    removedAt.set(element, tombstone);
    const surviving = (adds.get(element) ?? []).filter((tag) => tagHlc(tag) > tombstone);
    if (surviving.length > 0) adds.set(element, surviving);
    else adds.delete(element);
  }
  return { adds: sortedRecord(adds), removedAt: sortedRecord(removedAt) };
}

/** The elements currently present, sorted. */
export function orSetElements(state: OrSetState | undefined): string[] {
  if (state === undefined) return [];
  return Object.entries(state.adds)
    .filter(([, tags]) => tags.length > 0)
    .map(([element]) => element)
    .sort(compareStrings);
}
