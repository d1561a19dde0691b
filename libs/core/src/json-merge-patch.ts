/**
 * RFC 7386 JSON Merge Patch. Pure: inputs are never mutated. The result shares unchanged subtrees
 * with its inputs (structural sharing), so treat JSON values as immutable.
 */
import type { JsonValue } from './events.js';

type JsonObject = { [key: string]: JsonValue };

function isObject(value: JsonValue): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Returns `target` with `patch` merged in. Implements the RFC's MergePatch pseudo-code: a non-object
 * patch replaces the target; an object patch sets each member recursively, `null` removes it.
 */
export function applyMergePatch(target: JsonValue, patch: JsonValue): JsonValue {
  if (!isObject(patch)) return patch;
  const base: JsonObject = isObject(target) ? target : {};
  // Rebuilt with defineProperty semantics (Object.fromEntries) rather than assignment, so a member
  // named "__proto__" (which JSON.parse produces as an own property) stays data, never a prototype.
  const result = new Map<string, JsonValue>(Object.entries(base));
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) {
      result.delete(name);
    } else {
      const current = Object.hasOwn(base, name) ? base[name]! : null;
      result.set(name, applyMergePatch(current, value));
    }
  }
  return Object.fromEntries(result) as JsonObject;
}
