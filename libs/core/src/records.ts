/**
 * Helpers for plain-object maps keyed by untrusted strings (actors, set elements, attribute names).
 * Such a key can be `__proto__` or `constructor`: `obj[k]` would then read the prototype, and
 * `obj[k] = v` would replace it. These helpers only ever touch own data properties, and build
 * records with their keys sorted so that equal contents also serialise identically (the replay tool
 * compares checksums of state).
 */

/** The own value under `key`, never an inherited one. */
export function ownGet<V>(record: Record<string, V>, key: string): V | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** A record built from entries, keys sorted, `__proto__` stored as a normal own key. */
export function sortedRecord<V>(entries: Iterable<readonly [string, V]>): Record<string, V> {
  const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // Object.fromEntries defines properties (CreateDataProperty) instead of assigning them, so a
  // `__proto__` key becomes an own property rather than a prototype change.
  return Object.fromEntries(sorted) as Record<string, V>;
}

/** A copy of `record` with `key` set to `value` (or removed when `value` is undefined), keys sorted. */
export function withEntry<V>(record: Record<string, V>, key: string, value: V | undefined): Record<string, V> {
  const entries = Object.entries(record).filter(([k]) => k !== key);
  if (value !== undefined) entries.push([key, value]);
  return sortedRecord(entries);
}

/** Code-unit order, the same on every machine (unlike localeCompare). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sorted, without duplicates. */
export function sortedUnique(values: Iterable<string>): string[] {
  return [...new Set(values)].sort(compareStrings);
}
