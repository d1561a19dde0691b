/** fast-check arbitraries of MemoryEvents for the codec specs of this library. */
import fc from 'fast-check';
import type { EventMetadata, MemoryEvent } from '@engram/core';

/** Map keys avsc can decode into a plain object (`__proto__` would become the prototype). */
const mapKey = fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__');
export const dict = <T>(values: fc.Arbitrary<T>) => fc.dictionary(mapKey, values, { maxKeys: 4, noNullPrototype: true });

export const metadataArb: fc.Arbitrary<EventMetadata> = fc.record(
  {
    agentId: fc.string(),
    sessionId: fc.string(),
    runId: fc.string(),
    tags: fc.uniqueArray(fc.string({ maxLength: 6 }), { maxLength: 4 }).map((tags) => [...tags].sort()),
    attributes: dict(fc.oneof(fc.string(), fc.boolean(), fc.maxSafeInteger(), fc.double())),
  },
  { requiredKeys: ['tags', 'attributes'], noNullPrototype: true },
);

const envelopeArb = fc.record(
  {
    eventId: fc.uuid(),
    tenant: fc.string({ minLength: 1 }),
    namespace: fc.string(),
    key: fc.string(),
    actor: fc.string(),
    hlc: fc.maxSafeNat(),
    expectedVersion: fc.maxSafeNat(),
    text: fc.string({ unit: 'grapheme', maxLength: 40 }),
    vectors: dict(fc.array(fc.float(), { maxLength: 6 })),
    expiresAt: fc.maxSafeNat(),
    metadata: metadataArb,
    trace: fc.record({ traceparent: fc.string(), tracestate: fc.string() }, { requiredKeys: [], noNullPrototype: true }),
  },
  { requiredKeys: ['eventId', 'tenant', 'namespace', 'key', 'actor', 'hlc', 'metadata'], noNullPrototype: true },
);

const elementsArb = fc.uniqueArray(fc.string({ maxLength: 10 }), { maxLength: 5 });
const payloadArb = fc.oneof(
  fc.record({ type: fc.constant('MemoryWritten' as const), value: fc.jsonValue({ maxDepth: 3 }) }, { noNullPrototype: true }),
  fc.record({ type: fc.constant('MemoryPatched' as const), patch: fc.jsonValue({ maxDepth: 3 }) }, { noNullPrototype: true }),
  fc.record({ type: fc.constant('MemoryDeleted' as const) }, { noNullPrototype: true }),
  fc.record({ type: fc.constant('CounterIncremented' as const), delta: fc.maxSafeInteger() }, { noNullPrototype: true }),
  fc.record({ type: fc.constant('SetElementsAdded' as const), elements: elementsArb }, { noNullPrototype: true }),
  fc.record({ type: fc.constant('SetElementsRemoved' as const), elements: elementsArb }, { noNullPrototype: true }),
);

export const eventArb: fc.Arbitrary<MemoryEvent> = fc.tuple(envelopeArb, payloadArb).map(([envelope, payload]) => ({ ...envelope, ...payload }) as MemoryEvent);

/** What the event looks like after travelling: JSON values as JSON.parse(JSON.stringify(...)) gives them. */
export function expectedAfterTrip(event: MemoryEvent): MemoryEvent {
  if (event.type === 'MemoryWritten') return { ...event, value: JSON.parse(JSON.stringify(event.value)) };
  if (event.type === 'MemoryPatched') return { ...event, patch: JSON.parse(JSON.stringify(event.patch)) };
  return event;
}
