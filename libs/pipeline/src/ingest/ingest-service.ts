/**
 * Ingest: validate a batch, stamp each event (event id, HLC, partition), encode it in Avro and append
 * the whole batch to `memory-events` in one durable append. One bad event rejects the whole batch
 * before anything is written. Duplicate event ids are detected by the log's append (exactly, in the
 * embedded log's own transaction) and reported with the position of the first copy.
 */
import { randomUUID } from 'node:crypto';
import {
  LimitExceededError,
  ValidationError,
  encodeEntityId,
  parseEventInput,
  partitionForEntity,
  isEngramError,
  withFields,
  type HybridClock,
  type Limits,
  type MemoryEvent,
  type TraceContext,
} from '@engram/core';
import type { EventLog, LogRecord } from '@engram/ports';
import type { PipelineCodecs } from '../codecs.js';
import type { OutcomeLocation } from '../query/query-service.js';
import { encodeToken, mergePositions } from '../consistency-token.js';
import type { Telemetry } from '../telemetry.js';
import { eventRecordKey, type Topics } from '../topics.js';

export interface IngestResult {
  eventId: string;
  status: 'accepted' | 'duplicate';
  partition: number;
  offset: number;
}

export interface IngestReceipt {
  results: IngestResult[];
  /** Consistency token covering every event of the batch. */
  token: string;
  events: MemoryEvent[];
}

export interface IngestService {
  /** `raw` is the untrusted `events` array of a request. */
  submit(tenant: string, raw: unknown, context?: { trace?: TraceContext }): Promise<IngestReceipt>;
  /** Same, for events built by the HTTP shortcuts (already shaped as event inputs). */
  submitOne(tenant: string, input: Record<string, unknown>, context?: { trace?: TraceContext }): Promise<IngestReceipt>;
  /** Appends events built by Engram itself (the expiry sweeper): trusted, already valid. */
  appendInternal(events: MemoryEvent[]): Promise<IngestReceipt>;
  /**
   * Where the outcome of each event of a receipt is recorded (for `?wait=applied`). A duplicate's is
   * the first copy's, whose entity is read from the log: a client may have reused the id for another key.
   */
  outcomeLocations(receipt: IngestReceipt): Promise<OutcomeLocation[]>;
  /** The clock that stamps events, for internal producers. */
  readonly clock: HybridClock;
}

export function createIngestService(deps: { log: EventLog; codecs: PipelineCodecs; topics: Topics; limits: Limits; clock: HybridClock; telemetry: Telemetry }): IngestService {
  const { log, codecs, topics, limits, clock, telemetry } = deps;

  function parseBatch(tenant: string, raw: unknown, trace: TraceContext | undefined): MemoryEvent[] {
    if (!Array.isArray(raw)) throw new ValidationError('invalid_body', 'body must be {"events": [ … ]}', { field: 'events' });
    if (raw.length === 0) throw new ValidationError('invalid_body', 'events must not be empty', { field: 'events' });
    if (raw.length > limits.maxBatchSize) throw new LimitExceededError('batch size', raw.length, limits.maxBatchSize);
    return raw.map((item, index) => {
      try {
        const event = parseEventInput(item, { tenant, limits, hlc: clock.now(), newEventId: randomUUID });
        return trace && !event.trace ? withFields(event, { trace }) : event;
      } catch (error) {
        // Name the offending event so a client can fix its batch; nothing of the batch is stored.
        if (isEngramError(error)) Object.assign(error, { details: { ...(error.details ?? {}), index } });
        throw error;
      }
    });
  }

  async function append(events: MemoryEvent[]): Promise<IngestReceipt> {
    const records: LogRecord[] = events.map((event) => ({
      key: eventRecordKey(event.tenant, event.eventId),
      partition: partitionForEntity(encodeEntityId(event), topics.partitions),
      value: codecs.event.encode(event),
      headers: {
        tenant: event.tenant,
        'event-type': event.type,
        ...(event.trace?.traceparent ? { traceparent: event.trace.traceparent } : {}),
      },
    }));
    const appended = await log.append(topics.events, records, { dedupe: true });
    const results = appended.map((a, i): IngestResult => ({
      eventId: events[i]!.eventId,
      status: a.duplicate ? 'duplicate' : 'accepted',
      partition: a.partition,
      offset: a.offset,
    }));
    const accepted = results.filter((r) => r.status === 'accepted').length;
    telemetry.metrics.eventsIngested.inc({ status: 'accepted' }, accepted);
    telemetry.metrics.eventsIngested.inc({ status: 'duplicate' }, results.length - accepted);
    return { results, token: encodeToken(mergePositions(new Map(), results)), events };
  }

  /** The entity of the first copy of a duplicate; the submitted event's if that copy is gone (archived). */
  async function firstCopyEntity(result: IngestResult, submitted: MemoryEvent): Promise<string> {
    const [record] = await log.read(topics.events, result.partition, result.offset, 1);
    const original = record?.offset === result.offset && record.value !== null ? await codecs.event.decode(record.value) : submitted;
    return encodeEntityId(original);
  }

  return {
    async outcomeLocations(receipt) {
      return Promise.all(
        receipt.results.map(async (result, i) => {
          const event = receipt.events[i]!;
          const entityId = result.status === 'accepted' ? encodeEntityId(event) : await firstCopyEntity(result, event);
          return { entityId, partition: result.partition, offset: result.offset };
        }),
      );
    },
    // async, so a validation error rejects the promise instead of throwing at the call.
    submit: async (tenant, raw, context) => append(parseBatch(tenant, raw, context?.trace)),
    submitOne: async (tenant, input, context) => append(parseBatch(tenant, [input], context?.trace)),
    appendInternal: append,
    clock,
  };
}
