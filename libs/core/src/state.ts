/**
 * The materialised state of one entity and the outcome of applying one event to it. Folding lives in
 * fold.ts; this file is the shape only.
 */
import type { EventMetadata, JsonValue, LogPosition, MemoryKind } from './events.js';

/** PN-counter: per-actor sums of increments and of decrements. */
export interface PnCounterState {
  p: Record<string, number>;
  n: Record<string, number>;
}

/**
 * OR-set with HLC causal context: an element is present while it has an add tag newer than the
 * newest remove of that element. Commutative and deterministic (see crdt.ts for the argument).
 */
export interface OrSetState {
  /** element → add tags (`${hlc}:${eventId}`), sorted. Only tags newer than the element's tombstone are kept. */
  adds: Record<string, string[]>;
  /** element → HLC of the newest remove seen. */
  removedAt: Record<string, number>;
}

export interface MemoryState {
  tenant: string;
  namespace: string;
  key: string;
  kind: MemoryKind;
  /** Document value; for counters the number; for sets the sorted element list. Null once deleted. */
  value: JsonValue;
  deleted: boolean;
  text?: string;
  metadata: EventMetadata;
  /** Count of applied (not rejected) events. */
  version: number;
  /** HLC of the last applied event (the max for CRDT kinds). */
  hlc: number;
  /** HLC of the first applied event. */
  createdHlc: number;
  /** Per-actor count of applied events. */
  versionVector: Record<string, number>;
  /** Position in `memory-enriched` of the last applied event (effectively-once projection). */
  lastApplied: LogPosition;
  expiresAt?: number;
  counter?: PnCounterState;
  set?: OrSetState;
  /** Model key (`<id>@<revision>`) of the current text's embedding, when it has one. */
  embeddingModel?: string;
  /** Set once archival moved the memory out of the hot stores. */
  archive?: { uri: string; archivedAt: number };
}

export type EventOutcome =
  | { status: 'applied'; version: number }
  | { status: 'rejected'; code: string; reason: string };
