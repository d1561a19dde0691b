/**
 * `withFields(base, extra)`: what `{ ...base, ...extra }` means, for a `base` the caller owns (a
 * literal it just built), written into `base` instead of a new literal.
 *
 * On Node 20's V8, an object literal that writes a property *after* a spread (`{ ...base, type }`
 * where `base` has no `type`) leaves the fast clone path: every such property is a runtime call, and
 * a literal like ingest's `{ ...envelope, type, value }` cost ~1.6 µs, against ~0.1 µs for
 * Object.assign (bench/results/pipeline.md, "Session 10"). Spreads that only overwrite existing
 * properties, or that come last (`{ type, ...base }`), stay fast and need nothing of this.
 */
export function withFields<B extends object, const E extends object>(base: B, extra: E): B & E {
  return Object.assign(base, extra);
}
