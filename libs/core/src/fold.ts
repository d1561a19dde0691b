/**
 * Applying events to entity state (DESIGN.md section 2). Documents follow log order (write replaces,
 * patch merges); counters and sets are CRDTs (crdt.ts), so their events commute. `expectedVersion` is
 * checked here, in log order: the first writer wins and a stale event is rejected with a reason,
 * changing nothing. Pure and deterministic: the same events at the same positions give deep-equal
 * state on every machine, which is what makes projections disposable and replay verifiable.
 */
import { counterApply, counterValue, orSetAdd, orSetElements, orSetRemove } from './crdt.js';
import { isEngramError, ValidationError } from './errors.js';
import { kindOfEvent } from './events.js';
import type { EventMetadata, JsonValue, LogPosition, MemoryEvent, MemoryKind } from './events.js';
import { applyMergePatch } from './json-merge-patch.js';
import { ownGet, sortedUnique, withEntry } from './records.js';
import type { EventOutcome, MemoryState, OrSetState, PnCounterState } from './state.js';

export interface ApplyEventOptions {
  /**
   * Model id of the text embedding computed for this event (by the enrichment worker).
   * @default undefined (keep the previous model id unless the event brings new text)
   */
  embeddingModel?: string;
}

export interface ApplyResult {
  state: MemoryState | undefined;
  outcome: EventOutcome;
}

function reject(state: MemoryState | undefined, code: string, reason: string): ApplyResult {
  return { state, outcome: { status: 'rejected', code, reason } };
}

/** True when `position` is at or before the entity's last applied event: a redelivery to skip. */
export function isAlreadyApplied(state: MemoryState | undefined, position: LogPosition): boolean {
  return state !== undefined && state.lastApplied.partition === position.partition && position.offset <= state.lastApplied.offset;
}

function canonicalMetadata(metadata: EventMetadata): EventMetadata {
  return { ...metadata, tags: sortedUnique(metadata.tags), attributes: { ...metadata.attributes } };
}

/** The kind-specific part of the next state: what the value becomes. */
interface Body {
  kind: MemoryKind;
  value: JsonValue;
  deleted: boolean;
  counter?: PnCounterState;
  set?: OrSetState;
}

function nextBody(state: MemoryState | undefined, live: MemoryState | undefined, event: MemoryEvent): Body {
  switch (event.type) {
    case 'MemoryWritten':
      return { kind: 'document', value: event.value, deleted: false };
    case 'MemoryPatched':
      return { kind: 'document', value: applyMergePatch(live?.value ?? null, event.patch), deleted: false };
    case 'MemoryDeleted':
      // A delete of an entity never seen still leaves a tombstone, so its version keeps counting
      // and a later stale expectedVersion is caught. The kind is kept for reads of the tombstone.
      return { kind: state?.kind ?? 'document', value: null, deleted: true };
    case 'CounterIncremented': {
      const counter = counterApply(live?.counter, event.actor, event.delta);
      return { kind: 'counter', value: counterValue(counter), deleted: false, counter };
    }
    case 'SetElementsAdded': {
      const set = orSetAdd(live?.set, event.elements, event.hlc, event.eventId);
      return { kind: 'set', value: orSetElements(set), deleted: false, set };
    }
    case 'SetElementsRemoved': {
      const set = orSetRemove(live?.set, event.elements, event.hlc);
      return { kind: 'set', value: orSetElements(set), deleted: false, set };
    }
  }
}

/**
 * Applies one event. A rejected event returns the given state object unchanged. Throws only for
 * events that can never apply to this entity (another entity's event); CRDT overflow is a rejection.
 */
export function applyEvent(
  state: MemoryState | undefined,
  event: MemoryEvent,
  position: LogPosition,
  options: ApplyEventOptions = {},
): ApplyResult {
  if (state !== undefined && (state.tenant !== event.tenant || state.namespace !== event.namespace || state.key !== event.key)) {
    throw new ValidationError('entity_mismatch', `event ${event.eventId} belongs to another entity`, { eventId: event.eventId });
  }
  // Deleted entities keep their version, so a stale write after a delete is still caught.
  const version = state?.version ?? 0;
  if (event.expectedVersion !== undefined && event.expectedVersion !== version) {
    return reject(state, 'version_conflict', `expected version ${event.expectedVersion}, actual version ${version}`);
  }
  // After a delete the entity starts afresh (any kind, empty value); only the counters continue.
  const live = state !== undefined && !state.deleted ? state : undefined;
  const kind = kindOfEvent(event);
  if (live !== undefined && kind !== undefined && kind !== live.kind) {
    return reject(state, 'kind_mismatch', `${event.type} applies to a ${kind}, but this memory is a ${live.kind}`);
  }

  let body: Body;
  try {
    body = nextBody(state, live, event);
  } catch (error) {
    if (isEngramError(error)) return reject(state, error.code, error.message);
    throw error;
  }

  const deleted = body.deleted;
  const text = deleted ? undefined : event.text ?? live?.text;
  const expiresAt = deleted ? undefined : event.expiresAt ?? live?.expiresAt;
  // New text without a model id means its embedding is not known (yet): do not claim the old one.
  const embeddingModel = deleted
    ? undefined
    : options.embeddingModel ?? (event.text === undefined ? live?.embeddingModel : undefined);

  const next: MemoryState = {
    tenant: event.tenant,
    namespace: event.namespace,
    key: event.key,
    kind: body.kind,
    value: body.value,
    deleted,
    metadata: canonicalMetadata(event.metadata),
    version: version + 1,
    hlc: Math.max(state?.hlc ?? event.hlc, event.hlc),
    createdHlc: state?.createdHlc ?? event.hlc,
    versionVector: withEntry(state?.versionVector ?? {}, event.actor, (ownGet(state?.versionVector ?? {}, event.actor) ?? 0) + 1),
    lastApplied: { partition: position.partition, offset: position.offset },
  };
  if (text !== undefined) next.text = text;
  if (expiresAt !== undefined) next.expiresAt = expiresAt;
  if (body.counter !== undefined) next.counter = body.counter;
  if (body.set !== undefined) next.set = body.set;
  if (embeddingModel !== undefined) next.embeddingModel = embeddingModel;
  // Archival owns this pointer; folding events never sets or clears it.
  if (state?.archive !== undefined) next.archive = { ...state.archive };
  return { state: next, outcome: { status: 'applied', version: next.version } };
}

/** Folds events in the given (log) order, from no state. */
export function foldEvents(items: ReadonlyArray<{ event: MemoryEvent; position: LogPosition }>): {
  state: MemoryState | undefined;
  outcomes: EventOutcome[];
} {
  let state: MemoryState | undefined;
  const outcomes: EventOutcome[] = [];
  for (const { event, position } of items) {
    const result = applyEvent(state, event, position);
    state = result.state;
    outcomes.push(result.outcome);
  }
  return { state, outcomes };
}
