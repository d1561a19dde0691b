/**
 * Consistency tokens: "the projection has applied at least these positions of `memory-events`".
 * Ingest returns one per batch; any read can pass it back as `consistentWith` and waits (bounded)
 * until the projection's applied watermark reaches every listed partition.
 *
 * Wire form: `v1.` + base64url of `p:o,p:o` (offset = the event's own offset, inclusive). Opaque to
 * clients, but stable and cheap to merge (max per partition).
 */
import { ValidationError } from '@engram/core';

export type PositionMap = Map<number, number>;

export function encodeToken(positions: PositionMap): string {
  const body = [...positions.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([p, o]) => `${p}:${o}`)
    .join(',');
  return `v1.${Buffer.from(body, 'utf8').toString('base64url')}`;
}

export function decodeToken(token: string): PositionMap {
  const invalid = () => new ValidationError('invalid_token', 'consistency token is malformed', { field: 'consistentWith' });
  if (!token.startsWith('v1.') || token.length > 16_384) throw invalid();
  const encoded = token.slice(3);
  const body = Buffer.from(encoded, 'base64url').toString('utf8');
  // Node's decoder skips characters outside the alphabet, so garbage could decode to '' (no
  // positions: a read that silently does not wait). Only the canonical encoding is accepted.
  if (Buffer.from(body, 'utf8').toString('base64url') !== encoded) throw invalid();
  const out: PositionMap = new Map();
  if (body === '') return out;
  for (const pair of body.split(',')) {
    const m = /^(\d{1,6}):(\d{1,16})$/.exec(pair);
    if (!m) throw invalid();
    const p = Number(m[1]);
    const o = Number(m[2]);
    if (!Number.isSafeInteger(o)) throw invalid();
    out.set(p, Math.max(o, out.get(p) ?? -1));
  }
  return out;
}

/** Merge positions, keeping the highest offset per partition. */
export function mergePositions(into: PositionMap, positions: Iterable<{ partition: number; offset: number }>): PositionMap {
  for (const { partition, offset } of positions) into.set(partition, Math.max(offset, into.get(partition) ?? -1));
  return into;
}
