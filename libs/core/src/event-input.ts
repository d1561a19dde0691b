/**
 * Parses one event as it arrives over HTTP (untrusted JSON) into a MemoryEvent. Everything a client
 * controls is checked here, once, so the log only ever holds valid events: every later stage can
 * trust them. The tenant and the HLC come from the server (credentials, clock), never from the body.
 */
import { LimitExceededError, ValidationError } from './errors.js';
import { EVENT_TYPES } from './events.js';
import type { AttributeValue, EventEnvelope, EventMetadata, EventType, JsonValue, MemoryEvent } from './events.js';
import { isIdentifier, validateEventId, validateKey, validateNamespace, validateTenant } from './ids.js';
import type { Limits } from './limits.js';
import { withFields } from './objects.js';
import { sortedRecord, sortedUnique } from './records.js';
import { utf8BytesOver } from './utf8.js';

export interface EventInputContext {
  /** From the caller's credentials. */
  tenant: string;
  limits: Limits;
  /** The ingest node's hybrid-clock timestamp for this event. */
  hlc: number;
  /** Makes an event id when the client sent none. */
  newEventId: () => string;
}

/** Deeper JSON is refused: merge patch and serialisation recurse, and no memory needs more. */
export const MAX_JSON_DEPTH = 64;
const MAX_ELEMENT_LENGTH = 256;
const MAX_ATTRIBUTE_NAME_LENGTH = 128;

const COMMON_FIELDS = ['eventId', 'type', 'namespace', 'key', 'actor', 'expectedVersion', 'text', 'vectors', 'expiresAt', 'metadata'];
const TYPE_FIELDS: Record<EventType, string[]> = {
  MemoryWritten: ['value'],
  MemoryPatched: ['patch'],
  MemoryDeleted: [],
  CounterIncremented: ['delta'],
  SetElementsAdded: ['elements'],
  SetElementsRemoved: ['elements'],
};
const ALL_FIELDS = new Set([...COMMON_FIELDS, 'value', 'patch', 'delta', 'elements']);
const METADATA_FIELDS = new Set(['agentId', 'sessionId', 'runId', 'tags', 'attributes']);
// Date-only (UTC midnight) or date-time with an explicit offset: a date-time without one would be
// read in the server's local time zone, which differs between machines.
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

type RawObject = Record<string, unknown>;

function isPlainObject(value: unknown): value is RawObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function invalid(field: string, message: string, details: Record<string, unknown> = {}): ValidationError {
  return new ValidationError('invalid_field', `${field}: ${message}`, { ...details, field });
}

/** Present means set to something other than undefined/null (JSON clients send null for "absent"). */
function get(object: RawObject, field: string): unknown {
  return Object.hasOwn(object, field) && object[field] !== null ? object[field] : undefined;
}

function required(object: RawObject, field: string, type: string): unknown {
  const value = get(object, field);
  if (value === undefined) throw new ValidationError('missing_field', `${type} requires ${field}`, { field });
  return value;
}

function isJsonValue(value: unknown, depth: number): value is JsonValue {
  if (depth > MAX_JSON_DEPTH) return false;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((item) => isJsonValue(item, depth + 1));
  // Only plain objects: a Date or Map passed in-process would not survive JSON serialisation as itself.
  const proto: unknown = isPlainObject(value) ? Object.getPrototypeOf(value) : undefined;
  if (proto === Object.prototype || proto === null) return Object.values(value as RawObject).every((item) => isJsonValue(item, depth + 1));
  return false;
}

/**
 * The JSON text of the object values and patches parsed here: the size check serialises each one,
 * and the Avro codec writes the very same text to the log (`valueJson`, `patchJson`), so it takes
 * it from here instead of serialising again (~1 µs per event of a ~300-byte value). JSON values are
 * never changed in place in Engram (json-merge-patch.ts builds new ones), so a text cannot go stale.
 */
const jsonTexts = new WeakMap<object, string>();

/** The JSON text of `value` when this module parsed it (an object or array), else undefined. */
export function knownJsonText(value: JsonValue): string | undefined {
  return typeof value === 'object' && value !== null ? jsonTexts.get(value) : undefined;
}

/** `value` and `patch`: null is meaningful here, only a missing member is missing. */
function jsonField(object: RawObject, field: 'value' | 'patch', type: string, limits: Limits): JsonValue {
  if (!Object.hasOwn(object, field) || object[field] === undefined) {
    throw new ValidationError('missing_field', `${type} requires ${field}`, { field });
  }
  const value = object[field];
  if (!isJsonValue(value, 1)) throw invalid(field, `must be JSON nested at most ${MAX_JSON_DEPTH} deep, with finite numbers`);
  const text = JSON.stringify(value);
  const bytes = utf8BytesOver(text, limits.maxValueBytes);
  if (bytes !== undefined) throw new LimitExceededError(`${field} size`, bytes, limits.maxValueBytes, undefined, { field });
  if (typeof value === 'object' && value !== null) jsonTexts.set(value, text);
  return value;
}

function safeInteger(value: unknown, field: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalid(field, `must be a safe integer ≥ ${min}`);
  }
  return value;
}

function parseElements(value: unknown, limits: Limits): string[] {
  if (!Array.isArray(value) || value.length === 0) throw invalid('elements', 'must be a non-empty array of strings');
  if (value.length > limits.maxElements) {
    throw new LimitExceededError('elements', value.length, limits.maxElements, undefined, { field: 'elements' });
  }
  for (const element of value) {
    if (typeof element !== 'string' || element.length === 0 || element.length > MAX_ELEMENT_LENGTH) {
      throw invalid('elements', `each element must be a string of 1..${MAX_ELEMENT_LENGTH} characters`);
    }
  }
  return sortedUnique(value as string[]);
}

function parseText(value: unknown, limits: Limits): string {
  if (typeof value !== 'string') throw invalid('text', 'must be a string');
  if (value.length > limits.maxTextLength) {
    throw new LimitExceededError('text length', value.length, limits.maxTextLength, undefined, { field: 'text' });
  }
  return value;
}

function parseVectors(value: unknown, limits: Limits): Record<string, number[]> {
  if (!isPlainObject(value)) throw invalid('vectors', 'must be an object of modality → number[]');
  const entries: Array<[string, number[]]> = [];
  for (const [modality, vector] of Object.entries(value)) {
    const field = `vectors.${modality}`;
    const dims = Object.hasOwn(limits.vectorDims, modality) ? limits.vectorDims[modality] : undefined;
    if (dims === undefined) throw invalid(field, 'this modality is not configured');
    if (!Array.isArray(vector) || vector.length !== dims || !vector.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw invalid(field, `must be ${dims} finite numbers`, { expectedDims: dims });
    }
    entries.push([modality, [...(vector as number[])]]);
  }
  return sortedRecord(entries);
}

function parseExpiresAt(value: unknown): number {
  if (typeof value === 'number') return safeInteger(value, 'expiresAt', 0);
  const match = typeof value === 'string' ? ISO_8601.exec(value) : null;
  const ms = match === null ? Number.NaN : Date.parse(value as string);
  if (match !== null && Number.isFinite(ms)) {
    // Date.parse rolls 2024-02-30 over to March; refuse dates that do not exist.
    const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
    const date = new Date(Date.UTC(year, month - 1, day));
    if (date.getUTCMonth() === month - 1 && date.getUTCDate() === day && ms >= 0) return ms;
  }
  throw invalid('expiresAt', 'must be epoch milliseconds or an ISO-8601 date / date-time with offset');
}

function parseIdentifier(value: unknown, field: string): string {
  if (!isIdentifier(value)) throw invalid(field, 'must be 1..128 characters of [A-Za-z0-9_.:@=+~-]');
  return value;
}

function parseTags(value: unknown, limits: Limits): string[] {
  if (!Array.isArray(value)) throw invalid('metadata.tags', 'must be an array of strings');
  if (value.length > limits.maxTags) {
    throw new LimitExceededError('tags', value.length, limits.maxTags, undefined, { field: 'metadata.tags' });
  }
  for (const tag of value) {
    if (typeof tag !== 'string' || tag.length === 0) throw invalid('metadata.tags', 'each tag must be a non-empty string');
    if (tag.length > limits.maxTagLength) {
      throw new LimitExceededError('tag length', tag.length, limits.maxTagLength, undefined, { field: 'metadata.tags' });
    }
  }
  return sortedUnique(value as string[]);
}

function parseAttributes(value: unknown, limits: Limits): Record<string, AttributeValue> {
  if (!isPlainObject(value)) throw invalid('metadata.attributes', 'must be an object of scalar values');
  const entries = Object.entries(value);
  if (entries.length > limits.maxAttributes) {
    throw new LimitExceededError('attributes', entries.length, limits.maxAttributes, undefined, { field: 'metadata.attributes' });
  }
  for (const [name, attribute] of entries) {
    const field = `metadata.attributes.${name}`;
    if (name.length === 0 || name.length > MAX_ATTRIBUTE_NAME_LENGTH) throw invalid(field, `names must be 1..${MAX_ATTRIBUTE_NAME_LENGTH} characters`);
    const scalar = typeof attribute === 'string' || typeof attribute === 'boolean' || (typeof attribute === 'number' && Number.isFinite(attribute));
    if (!scalar) throw invalid(field, 'must be a string, a finite number or a boolean');
  }
  return sortedRecord(entries as Array<[string, AttributeValue]>);
}

function parseMetadata(value: unknown, limits: Limits): EventMetadata {
  if (value === undefined) return { tags: [], attributes: {} };
  if (!isPlainObject(value)) throw invalid('metadata', 'must be an object');
  for (const name of Object.keys(value)) {
    if (!METADATA_FIELDS.has(name)) throw invalid(`metadata.${name}`, 'unknown field');
  }
  const metadata: EventMetadata = { tags: [], attributes: {} };
  for (const name of ['agentId', 'sessionId', 'runId'] as const) {
    const id = get(value, name);
    if (id !== undefined) metadata[name] = parseIdentifier(id, `metadata.${name}`);
  }
  const tags = get(value, 'tags');
  if (tags !== undefined) metadata.tags = parseTags(tags, limits);
  const attributes = get(value, 'attributes');
  if (attributes !== undefined) metadata.attributes = parseAttributes(attributes, limits);
  return metadata;
}

function parseType(raw: RawObject): EventType {
  const type = get(raw, 'type');
  if (type === undefined) throw new ValidationError('missing_field', 'an event requires type', { field: 'type' });
  if (typeof type !== 'string' || !(EVENT_TYPES as readonly string[]).includes(type)) {
    throw new ValidationError('unknown_event_type', `type must be one of ${EVENT_TYPES.join(', ')}`, { field: 'type' });
  }
  return type as EventType;
}

export function parseEventInput(raw: unknown, ctx: EventInputContext): MemoryEvent {
  if (!isPlainObject(raw)) throw new ValidationError('invalid_event', 'an event must be a JSON object', {});
  for (const name of Object.keys(raw)) {
    if (!ALL_FIELDS.has(name)) throw invalid(name, 'unknown field');
  }
  const type = parseType(raw);
  for (const name of ['value', 'patch', 'delta', 'elements']) {
    if (Object.hasOwn(raw, name) && raw[name] !== undefined && !TYPE_FIELDS[type].includes(name)) {
      throw invalid(name, `not allowed on ${type}`);
    }
  }
  const { limits } = ctx;
  const eventIdInput = get(raw, 'eventId');
  const metadata = parseMetadata(get(raw, 'metadata'), limits);
  const actorInput = get(raw, 'actor');
  const envelope: EventEnvelope = {
    eventId: validateEventId(eventIdInput === undefined ? ctx.newEventId() : eventIdInput),
    tenant: validateTenant(ctx.tenant),
    namespace: validateNamespace(required(raw, 'namespace', type), limits),
    key: validateKey(required(raw, 'key', type), limits),
    actor: actorInput === undefined ? metadata.agentId ?? 'anonymous' : parseIdentifier(actorInput, 'actor'),
    hlc: ctx.hlc,
    metadata,
  };
  const expectedVersion = get(raw, 'expectedVersion');
  if (expectedVersion !== undefined) envelope.expectedVersion = safeInteger(expectedVersion, 'expectedVersion', 0);
  const text = get(raw, 'text');
  if (text !== undefined) envelope.text = parseText(text, limits);
  const vectors = get(raw, 'vectors');
  if (vectors !== undefined) envelope.vectors = parseVectors(vectors, limits);
  const expiresAt = get(raw, 'expiresAt');
  if (expiresAt !== undefined) envelope.expiresAt = parseExpiresAt(expiresAt);

  // Object.assign onto the envelope, not `{ ...envelope, type, … }`: see withFields (objects.ts).
  switch (type) {
    case 'MemoryWritten':
      return withFields(envelope, { type, value: jsonField(raw, 'value', type, limits) });
    case 'MemoryPatched':
      return withFields(envelope, { type, patch: jsonField(raw, 'patch', type, limits) });
    case 'MemoryDeleted':
      return withFields(envelope, { type });
    case 'CounterIncremented': {
      const delta = required(raw, 'delta', type);
      if (typeof delta !== 'number' || !Number.isSafeInteger(delta) || delta === 0) throw invalid('delta', 'must be a non-zero safe integer');
      return withFields(envelope, { type, delta });
    }
    case 'SetElementsAdded':
    case 'SetElementsRemoved':
      return withFields(envelope, { type, elements: parseElements(required(raw, 'elements', type), limits) });
  }
}
