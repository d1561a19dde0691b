/**
 * KV layout of the keyword index. Every key starts with `kw|<kind>|<tenant>|`, so a tenant's data is
 * one contiguous key range per kind and a query never needs to read another tenant's keys:
 *
 * | key                                   | value                                        |
 * |---------------------------------------|----------------------------------------------|
 * | `kw|p|<tenant>|<term>|<entityId>`     | posting: tf, document length (2 × uint32 BE)  |
 * | `kw|d|<tenant>|<term>|<partition>`    | documents of that partition holding the term (float64 BE) |
 * | `kw|s|<tenant>|<partition>`           | indexed documents, sum of their lengths (2 × float64 BE) |
 *
 * Counters are per log partition because exactly one projection writer owns a partition, so it can
 * read-modify-write them inside its atomic batch without contention; readers sum the partitions.
 * Terms contain only letters, digits and marks, and tenants never contain `|`, so the `|` after the
 * tenant and after the term makes every prefix exact (`kw|d|t|run|` never matches `kw|d|t|runs|`).
 * Counters are float64 (exact integers up to 2^53) rather than uint32 so a long-lived partition's
 * total length cannot wrap.
 */
import { EngramError, ValidationError } from '@engram/core';

export const KEYWORD_PREFIX = 'kw|';

export function postingPrefix(tenant: string, term: string): string {
  return `kw|p|${tenant}|${term}|`;
}

export function postingKey(tenant: string, term: string, entityId: string): string {
  return `${postingPrefix(tenant, term)}${entityId}`;
}

export function dfPrefix(tenant: string, term: string): string {
  return `kw|d|${tenant}|${term}|`;
}

export function dfKey(tenant: string, term: string, partition: number): string {
  return `${dfPrefix(tenant, term)}${partition}`;
}

export function statsPrefix(tenant: string): string {
  return `kw|s|${tenant}|`;
}

export function statsKey(tenant: string, partition: number): string {
  return `${statsPrefix(tenant)}${partition}`;
}

/** A tenant that could contain the separator would let one tenant's prefix reach into another's. */
export function assertTenant(tenant: string): void {
  if (tenant.length === 0 || tenant.includes('|')) {
    throw new ValidationError('invalid_tenant', `tenant must be non-empty and must not contain '|': ${JSON.stringify(tenant)}`);
  }
}

export interface Posting {
  /** Occurrences of the term in the document. */
  tf: number;
  /** Tokens in the document (after stop words), as BM25's length normalisation needs. */
  len: number;
}

export function encodePosting(posting: Posting): Buffer {
  const buf = Buffer.allocUnsafe(8);
  buf.writeUInt32BE(posting.tf, 0);
  buf.writeUInt32BE(posting.len, 4);
  return buf;
}

export function decodePosting(key: string, value: Buffer): Posting {
  if (value.length !== 8) throw corrupt(key, value);
  return { tf: value.readUInt32BE(0), len: value.readUInt32BE(4) };
}

export function encodeCount(count: number): Buffer {
  const buf = Buffer.allocUnsafe(8);
  buf.writeDoubleBE(count, 0);
  return buf;
}

export function decodeCount(key: string, value: Buffer | undefined): number {
  if (value === undefined) return 0;
  if (value.length !== 8) throw corrupt(key, value);
  return value.readDoubleBE(0);
}

export interface PartitionStats {
  /** Indexed documents (entities whose text has at least one token). */
  docs: number;
  /** Sum of the indexed documents' lengths. */
  totalLen: number;
}

export function encodeStats(stats: PartitionStats): Buffer {
  const buf = Buffer.allocUnsafe(16);
  buf.writeDoubleBE(stats.docs, 0);
  buf.writeDoubleBE(stats.totalLen, 8);
  return buf;
}

export function decodeStats(key: string, value: Buffer | undefined): PartitionStats {
  if (value === undefined) return { docs: 0, totalLen: 0 };
  if (value.length !== 16) throw corrupt(key, value);
  return { docs: value.readDoubleBE(0), totalLen: value.readDoubleBE(8) };
}

/** Not retriable: the stored index disagrees with itself and only a rebuild (replay) repairs it. */
export function inconsistent(message: string, details: Record<string, unknown>): EngramError {
  return new EngramError('keyword_index_inconsistent', message, { retriable: false, details });
}

function corrupt(key: string, value: Buffer): EngramError {
  return inconsistent(`keyword index value has an unexpected size at ${key}`, { key, size: value.length });
}
