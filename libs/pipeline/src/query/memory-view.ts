/** What clients see of a memory: no internal positions, times as ISO-8601. */
import { hlcWallMs, type EventMetadata, type JsonValue, type MemoryKind, type MemoryState } from '@engram/core';

export interface MemoryView {
  namespace: string;
  key: string;
  kind: MemoryKind;
  value: JsonValue;
  text?: string;
  metadata: EventMetadata;
  version: number;
  createdAt: string;
  updatedAt: string;
  expiresAt?: string;
  embeddingModel?: string;
  archived?: boolean;
}

export function toView(state: MemoryState): MemoryView {
  const view: MemoryView = {
    namespace: state.namespace,
    key: state.key,
    kind: state.kind,
    value: state.value,
    metadata: state.metadata,
    version: state.version,
    createdAt: new Date(hlcWallMs(state.createdHlc)).toISOString(),
    updatedAt: new Date(hlcWallMs(state.hlc)).toISOString(),
  };
  if (state.text !== undefined) view.text = state.text;
  if (state.expiresAt !== undefined) view.expiresAt = new Date(state.expiresAt).toISOString();
  if (state.embeddingModel !== undefined) view.embeddingModel = state.embeddingModel;
  if (state.archive) view.archived = true;
  return view;
}

/** Deleted and expired memories are invisible to reads. */
export function isVisible(state: MemoryState | undefined, now: number): state is MemoryState {
  return state !== undefined && !state.deleted && (state.expiresAt === undefined || state.expiresAt > now);
}
