/**
 * Entity identity (DESIGN.md section 2): one canonical, injective encoding of (tenant, namespace, key)
 * used for partitioning, KV keys, vector ids and cache keys, plus the Kafka-compatible partitioner.
 */
import { LimitExceededError, ValidationError } from './errors.js';
import type { Limits } from './limits.js';
import { utf8BytesOver, utf8Bytes } from './utf8.js';

export interface EntityRef {
  tenant: string;
  namespace: string;
  key: string;
}

// '|' separates the parts of an entity id and appears in none of these character sets, which is
// what makes the encoding injective and lets a prefix scan stop exactly at a namespace boundary.
const TENANT_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const SEGMENT_PATTERN = /^[A-Za-z0-9_.:@=+~-]{1,128}$/;
const KEY_PATTERN = /^[A-Za-z0-9_.:@=+~,-]+$/;
const EVENT_ID_PATTERN = /^[A-Za-z0-9_.:@=+~-]{1,128}$/;
const MAX_SEGMENTS = 32;
const SEPARATOR = '|';

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value) : typeof value;
}

export function validateTenant(tenant: unknown): string {
  if (typeof tenant !== 'string' || !TENANT_PATTERN.test(tenant)) {
    throw new ValidationError('invalid_tenant', `tenant ${describe(tenant)} must match ${TENANT_PATTERN.source}`, { field: 'tenant' });
  }
  return tenant;
}

/** Segment syntax only (no byte limit): also used to decode ids written under other limits. */
function namespaceSyntaxError(namespace: string): string | undefined {
  const segments = namespace.split('/');
  if (segments.length > MAX_SEGMENTS) return `has ${segments.length} segments, at most ${MAX_SEGMENTS} are allowed`;
  for (const segment of segments) {
    // '.' and '..' are refused so that a namespace used as a path (file-backed stores, URLs) can
    // never walk out of its parent.
    if (!SEGMENT_PATTERN.test(segment) || segment === '.' || segment === '..') {
      return `segment ${describe(segment)} must match ${SEGMENT_PATTERN.source} and not be '.' or '..'`;
    }
  }
  return undefined;
}

export function validateNamespace(namespace: unknown, limits: Limits): string {
  if (typeof namespace !== 'string') {
    throw new ValidationError('invalid_namespace', `namespace must be a string, got ${describe(namespace)}`, { field: 'namespace' });
  }
  const bytes = utf8BytesOver(namespace, limits.maxNamespaceLength);
  if (bytes !== undefined) {
    throw new LimitExceededError('namespace length', bytes, limits.maxNamespaceLength, undefined, { field: 'namespace' });
  }
  const error = namespaceSyntaxError(namespace);
  if (error !== undefined) throw new ValidationError('invalid_namespace', `namespace ${error}`, { field: 'namespace' });
  return namespace;
}

export function validateKey(key: unknown, limits: Limits): string {
  if (typeof key !== 'string') {
    throw new ValidationError('invalid_key', `key must be a string, got ${describe(key)}`, { field: 'key' });
  }
  const bytes = utf8BytesOver(key, limits.maxKeyLength);
  if (bytes !== undefined) {
    throw new LimitExceededError('key length', bytes, limits.maxKeyLength, undefined, { field: 'key' });
  }
  if (!KEY_PATTERN.test(key)) {
    throw new ValidationError('invalid_key', `key ${describe(key)} must match ${KEY_PATTERN.source}`, { field: 'key' });
  }
  return key;
}

/** True when `value` is a string in the event-id character set (also used for actors and run ids). */
export function isIdentifier(value: unknown): value is string {
  return typeof value === 'string' && EVENT_ID_PATTERN.test(value);
}

export function validateEventId(eventId: unknown): string {
  if (!isIdentifier(eventId)) {
    throw new ValidationError('invalid_event_id', `eventId ${describe(eventId)} must match ${EVENT_ID_PATTERN.source}`, { field: 'eventId' });
  }
  return eventId;
}

/** `tenant|namespace|key`. The parts are not re-validated: build refs from validated input. */
export function encodeEntityId(ref: EntityRef): string {
  return `${ref.tenant}${SEPARATOR}${ref.namespace}${SEPARATOR}${ref.key}`;
}

/**
 * Parses an id made by {@link encodeEntityId}. Checks syntax but no configured length limit, so that
 * ids stored under other limits still decode.
 */
export function decodeEntityId(id: string): EntityRef {
  const parts = typeof id === 'string' ? id.split(SEPARATOR) : [];
  const [tenant, namespace, key] = parts;
  const valid =
    parts.length === 3 &&
    tenant !== undefined && TENANT_PATTERN.test(tenant) &&
    namespace !== undefined && namespaceSyntaxError(namespace) === undefined &&
    key !== undefined && KEY_PATTERN.test(key);
  if (!valid) throw new ValidationError('invalid_entity_id', `${describe(id)} is not an entity id (tenant|namespace|key)`, { field: 'entityId' });
  return { tenant, namespace, key };
}

/** Prefix of every entity id in exactly this namespace (not its sub-namespaces), for ordered scans. */
export function namespaceScanPrefix(tenant: string, namespace: string): string {
  return `${tenant}${SEPARATOR}${namespace}${SEPARATOR}`;
}

/** Prefix of every entity id of the tenant. */
export function tenantScanPrefix(tenant: string): string {
  return `${tenant}${SEPARATOR}`;
}

/**
 * Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), returning the same signed 32-bit
 * int as the Java code. Math.imul gives Java's wrapping int multiplication; `>>>` then `| 0` mirror
 * Java's unsigned shift on an int.
 */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const m = 0x5bd1e995;
  const r = 24;
  let h = (0x9747b28c ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = (data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24)) | 0;
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const tail = length & ~3;
  const rest = length % 4;
  if (rest === 3) h ^= data[tail + 2]! << 16;
  if (rest >= 2) h ^= data[tail + 1]! << 8;
  if (rest >= 1) {
    h ^= data[tail]!;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The partition of an entity, computed exactly as Kafka's default partitioner does for a keyed
 * record (`toPositive(murmur2(keyBytes)) % partitions`), so Java and other clients agree with us.
 */
export function partitionForEntity(entityId: string, partitions: number): number {
  if (!Number.isSafeInteger(partitions) || partitions < 1) {
    throw new ValidationError('invalid_partition_count', `partition count must be a positive integer, got ${partitions}`, { field: 'partitions' });
  }
  return (murmur2(utf8Bytes(entityId)) & 0x7fffffff) % partitions;
}
