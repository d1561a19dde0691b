/**
 * Messages between `engram start`'s main thread and its projection thread (projection-thread.ts).
 * One MessagePort carries them in order, which is what read-your-writes rests on: the cache entries
 * a batch stored travel in the same message as the watermark advance that makes the batch visible,
 * so a reader woken by the watermark cannot find an older entry in the main thread's cache.
 */
import type { EngramConfig } from '@engram/config';
import type { WireError } from '@engram/core';
import type { HandedOn } from '@engram/pipeline';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';

export interface ProjectionThreadData {
  config: EngramConfig;
}

/** Cache entries packed into one transferable buffer: value i is bytes[offsets[i] .. offsets[i + 1]). */
export interface PackedEntries {
  keys: string[];
  versions: number[];
  offsets: number[];
  bytes: ArrayBuffer;
}

export type ThreadToMain =
  | { type: 'ready' }
  | { type: 'failed'; error: WireError }
  /** A durable KV batch: its states for the cache, then its watermarks ([partition, sourceOffset]). */
  | { type: 'applied'; entries: PackedEntries | undefined; marks: Array<[number, number]> }
  | { type: 'cache-delete'; keys: string[] }
  /** What the projector decoded, for the followers of the main thread (record-handoff.ts). */
  | { type: 'handoff'; passed: Array<[number, number]>; summaries: Array<{ partition: number; offset: number; summary: HandedOn }> }
  | { type: 'state-appended' }
  | { type: 'metrics'; id: number; metrics: MetricObjectWithValues<MetricValue<string>>[] }
  | { type: 'crashed'; error: WireError }
  | { type: 'stopped' };

export type MainToThread = { type: 'metrics'; id: number } | { type: 'stop' };

export function packEntries(entries: Array<{ key: string; value: Uint8Array; version: number }>): PackedEntries {
  const offsets = [0];
  for (const e of entries) offsets.push(offsets[offsets.length - 1]! + e.value.byteLength);
  const bytes = new Uint8Array(new ArrayBuffer(offsets[offsets.length - 1]!));
  entries.forEach((e, i) => bytes.set(e.value, offsets[i]));
  return { keys: entries.map((e) => e.key), versions: entries.map((e) => e.version), offsets, bytes: bytes.buffer };
}

export function unpackEntries(packed: PackedEntries): Array<{ key: string; value: Buffer; version: number }> {
  const bytes = Buffer.from(packed.bytes);
  return packed.keys.map((key, i) => ({ key, value: bytes.subarray(packed.offsets[i], packed.offsets[i + 1]), version: packed.versions[i]! }));
}
