/**
 * MemoryEvent (libs/core) ↔ dev.engram.v1.MemoryEvent (schemas/memory-event.avsc). The TypeScript
 * `type` discriminator becomes the payload union branch of the same name; JSON values travel as
 * JSON text; optional fields are null in Avro and omitted in TypeScript.
 */
import { knownJsonText, withFields, type AttributeValue, type EventEnvelope, type EventMetadata, type EventType, type JsonValue, type MemoryEvent, type TraceContext } from '@engram/core';
import type { SchemaRegistry } from '@engram/ports';
import { createEventCodec } from './event-codec.js';
import type { EventCodec } from './event-codec.js';

const NS = 'dev.engram.v1.';

/** Attribute values are a wrapped union (long and double are both JS numbers). */
export type AvroAttribute = { string: string } | { long: number } | { double: number } | { boolean: boolean };

export interface AvroEventMetadata {
  agentId: string | null;
  sessionId: string | null;
  runId: string | null;
  tags: string[];
  attributes: Record<string, AvroAttribute>;
}

type AvroPayload =
  | { 'dev.engram.v1.MemoryWritten': { valueJson: string } }
  | { 'dev.engram.v1.MemoryPatched': { patchJson: string } }
  | { 'dev.engram.v1.MemoryDeleted': Record<string, never> }
  | { 'dev.engram.v1.CounterIncremented': { delta: number } }
  | { 'dev.engram.v1.SetElementsAdded': { elements: string[] } }
  | { 'dev.engram.v1.SetElementsRemoved': { elements: string[] } };

export interface AvroMemoryEvent {
  eventId: string;
  tenant: string;
  namespace: string;
  key: string;
  actor: string;
  hlc: number;
  expectedVersion: number | null;
  text: string | null;
  vectors: Record<string, number[]> | null;
  expiresAt: number | null;
  metadata: AvroEventMetadata;
  trace: { traceparent: string | null; tracestate: string | null } | null;
  payload: AvroPayload;
}

function attributeToAvro(value: AttributeValue): AvroAttribute {
  if (typeof value === 'string') return { string: value };
  if (typeof value === 'boolean') return { boolean: value };
  // Safe integers go as long so they stay exact and stay integers for non-JS readers; -0 is an
  // integer to JS but a long would turn it into 0.
  return Number.isSafeInteger(value) && !Object.is(value, -0) ? { long: value } : { double: value };
}

export function metadataToAvro(metadata: EventMetadata): AvroEventMetadata {
  const attributes: Record<string, AvroAttribute> = {};
  for (const [name, value] of Object.entries(metadata.attributes)) attributes[name] = attributeToAvro(value);
  return {
    agentId: metadata.agentId ?? null,
    sessionId: metadata.sessionId ?? null,
    runId: metadata.runId ?? null,
    tags: metadata.tags,
    attributes,
  };
}

export function metadataFromAvro(avro: AvroEventMetadata): EventMetadata {
  const attributes: Record<string, AttributeValue> = {};
  // A branch object has exactly one own key, the branch name.
  for (const [name, branch] of Object.entries(avro.attributes)) attributes[name] = Object.values(branch)[0] as AttributeValue;
  const metadata: EventMetadata = { tags: avro.tags, attributes };
  if (avro.agentId !== null) metadata.agentId = avro.agentId;
  if (avro.sessionId !== null) metadata.sessionId = avro.sessionId;
  if (avro.runId !== null) metadata.runId = avro.runId;
  return metadata;
}

function payloadToAvro(event: MemoryEvent): AvroPayload {
  switch (event.type) {
    case 'MemoryWritten':
      return { 'dev.engram.v1.MemoryWritten': { valueJson: jsonText(event.value) } };
    case 'MemoryPatched':
      return { 'dev.engram.v1.MemoryPatched': { patchJson: jsonText(event.patch) } };
    case 'MemoryDeleted':
      return { 'dev.engram.v1.MemoryDeleted': {} };
    case 'CounterIncremented':
      return { 'dev.engram.v1.CounterIncremented': { delta: event.delta } };
    case 'SetElementsAdded':
      return { 'dev.engram.v1.SetElementsAdded': { elements: event.elements } };
    case 'SetElementsRemoved':
      return { 'dev.engram.v1.SetElementsRemoved': { elements: event.elements } };
  }
}

/**
 * JSON text of a value; refuses what JSON cannot carry (undefined, functions, symbols). A value that
 * ingest parsed comes with its text already made (core's event-input.ts, `knownJsonText`).
 */
export function jsonText(value: JsonValue): string {
  const known = knownJsonText(value);
  if (known !== undefined) return known;
  const text = JSON.stringify(value) as string | undefined;
  if (text === undefined) throw new TypeError(`${typeof value} is not a JSON value`);
  return text;
}

export function memoryEventToAvro(event: MemoryEvent): AvroMemoryEvent {
  const trace = event.trace;
  return {
    eventId: event.eventId,
    tenant: event.tenant,
    namespace: event.namespace,
    key: event.key,
    actor: event.actor,
    hlc: event.hlc,
    expectedVersion: event.expectedVersion ?? null,
    text: event.text ?? null,
    vectors: event.vectors ?? null,
    expiresAt: event.expiresAt ?? null,
    metadata: metadataToAvro(event.metadata),
    trace: trace === undefined ? null : { traceparent: trace.traceparent ?? null, tracestate: trace.tracestate ?? null },
    payload: payloadToAvro(event),
  };
}

/** The payload union's branch name (`dev.engram.v1.<EventType>`) of an Avro MemoryEvent. */
function payloadBranch(avro: AvroMemoryEvent): string {
  return Object.keys(avro.payload)[0] as string;
}

/** The event type of an Avro MemoryEvent, read from its payload branch alone. */
export function avroEventType(avro: AvroMemoryEvent): EventType {
  return payloadBranch(avro).slice(NS.length) as EventType;
}

export function memoryEventFromAvro(avro: AvroMemoryEvent): MemoryEvent {
  const envelope: EventEnvelope = {
    eventId: avro.eventId,
    tenant: avro.tenant,
    namespace: avro.namespace,
    key: avro.key,
    actor: avro.actor,
    hlc: avro.hlc,
    metadata: metadataFromAvro(avro.metadata),
  };
  if (avro.expectedVersion !== null) envelope.expectedVersion = avro.expectedVersion;
  if (avro.text !== null) envelope.text = avro.text;
  if (avro.vectors !== null) envelope.vectors = avro.vectors;
  if (avro.expiresAt !== null) envelope.expiresAt = avro.expiresAt;
  if (avro.trace !== null) {
    const trace: TraceContext = {};
    if (avro.trace.traceparent !== null) trace.traceparent = avro.trace.traceparent;
    if (avro.trace.tracestate !== null) trace.tracestate = avro.trace.tracestate;
    envelope.trace = trace;
  }
  const branch = payloadBranch(avro);
  const body = (avro.payload as Record<string, Record<string, unknown>>)[branch] as Record<string, unknown>;
  switch (branch) {
    // Object.assign onto the envelope, not `{ ...envelope, type, … }`: see withFields (core objects.ts).
    case `${NS}MemoryWritten`:
      return withFields(envelope, { type: 'MemoryWritten', value: JSON.parse(body.valueJson as string) as JsonValue });
    case `${NS}MemoryPatched`:
      return withFields(envelope, { type: 'MemoryPatched', patch: JSON.parse(body.patchJson as string) as JsonValue });
    case `${NS}MemoryDeleted`:
      return withFields(envelope, { type: 'MemoryDeleted' });
    case `${NS}CounterIncremented`:
      return withFields(envelope, { type: 'CounterIncremented', delta: body.delta as number });
    case `${NS}SetElementsAdded`:
      return withFields(envelope, { type: 'SetElementsAdded', elements: body.elements as string[] });
    case `${NS}SetElementsRemoved`:
      return withFields(envelope, { type: 'SetElementsRemoved', elements: body.elements as string[] });
    default:
      throw new Error(`unknown payload ${String(branch)}`);
  }
}

/** Codec for `memory-events` values (registered under `<topic>-value`). */
export function createMemoryEventCodec(registry: SchemaRegistry, topic: string): EventCodec<MemoryEvent> {
  return createEventCodec<MemoryEvent>(registry, {
    topic,
    schema: 'memory-event',
    toAvro: memoryEventToAvro,
    fromAvro: memoryEventFromAvro,
  });
}
