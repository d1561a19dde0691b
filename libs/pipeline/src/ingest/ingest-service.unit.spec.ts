import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS, EngramError, createHybridClock, encodeEntityId, partitionForEntity, type Limits } from '@engram/core';
import { decodeToken } from '../consistency-token.js';
import { createLogEnv, type LogEnv } from '../pipeline.spec-helper.js';
import { eventRecordKey } from '../topics.js';
import { createIngestService, type IngestService } from './ingest-service.js';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const LIMITS: Limits = { ...DEFAULT_LIMITS, maxBatchSize: 5, vectorDims: { image: 3 } };

const write = (key: string, extra: Record<string, unknown> = {}) => ({ type: 'MemoryWritten', namespace: 'agents/planner', key, value: { n: key }, ...extra });

function hasCode(code: string, check: (e: EngramError) => boolean = () => true) {
  return (error: unknown) => error instanceof EngramError && error.code === code && check(error);
}

describe('ingest service', () => {
  let env: LogEnv;
  let ingest: IngestService;
  beforeEach(async () => {
    env = await createLogEnv({ partitions: 4 });
    ingest = createIngestService({ log: env.log, codecs: env.codecs, topics: env.topics, limits: LIMITS, clock: createHybridClock(), telemetry: env.telemetry });
  });
  afterEach(() => env.close());

  const ends = () => env.log.endOffsets(env.topics.events);

  async function stored(partition: number) {
    const records = await env.log.read(env.topics.events, partition, 0, 100);
    return Promise.all(records.map(async (r) => ({ record: r, event: await env.codecs.event.decode(r.value!) })));
  }

  it('appends each event to the partition of its entity, encoded, and returns a token covering the batch', async () => {
    const keys = ['k1', 'k2', 'k3', 'k4', 'k5'];
    const receipt = await ingest.submit('acme', keys.map((k) => write(k, { text: `about ${k}` })));
    assert.equal(receipt.results.length, 5);
    const tokenPositions = new Map<number, number>();
    for (const [i, result] of receipt.results.entries()) {
      assert.equal(result.status, 'accepted');
      const expected = partitionForEntity(encodeEntityId({ tenant: 'acme', namespace: 'agents/planner', key: keys[i]! }), 4);
      assert.equal(result.partition, expected, `partition of ${keys[i]}`);
      assert.equal(result.eventId, receipt.events[i]!.eventId);
      tokenPositions.set(result.partition, Math.max(result.offset, tokenPositions.get(result.partition) ?? -1));
      const found = (await stored(result.partition)).find((s) => s.record.offset === result.offset);
      assert.ok(found, `record at ${result.partition}/${result.offset}`);
      assert.equal(found.record.key, eventRecordKey('acme', result.eventId));
      assert.equal(found.record.headers.tenant, 'acme');
      assert.equal(found.record.headers['event-type'], 'MemoryWritten');
      assert.equal(found.event.key, keys[i]);
      assert.equal(found.event.text, `about ${keys[i]}`);
      assert.deepEqual((found.event as { value: unknown }).value, { n: keys[i] });
    }
    assert.deepEqual(decodeToken(receipt.token), tokenPositions);
    assert.equal((await ends()).reduce((a, b) => a + b, 0), 5);
    // Generated event ids are distinct, and HLCs increase through the batch.
    assert.equal(new Set(receipt.events.map((e) => e.eventId)).size, 5);
    const hlcs = receipt.events.map((e) => e.hlc);
    assert.deepEqual(hlcs, [...hlcs].sort((a, b) => a - b));
  });

  it('stores nothing of a batch with one invalid event and names its index', async () => {
    const batch = [write('a'), write('b'), { type: 'MemoryWritten', namespace: 'bad namespace!', key: 'c', value: 1 }, write('d')];
    await assert.rejects(ingest.submit('acme', batch), hasCode('invalid_namespace', (e) => e.details?.index === 2 && e.details?.field === 'namespace'));
    assert.deepEqual(await ends(), [0, 0, 0, 0]);
    await assert.rejects(ingest.submit('acme', [write('a'), { type: 'Nope', namespace: 'n', key: 'k' }]), hasCode('unknown_event_type', (e) => e.details?.index === 1));
    await assert.rejects(ingest.submit('acme', [write('a', { value: 'x'.repeat(10), bogus: 1 })]), hasCode('invalid_field', (e) => e.details?.index === 0));
    // A limit error keeps its own details next to the index.
    const long = write('b', { text: 'x'.repeat(LIMITS.maxTextLength + 1) });
    await assert.rejects(ingest.submit('acme', [write('a'), long]), hasCode('limit_exceeded', (e) => e.details?.index === 1 && e.details?.max === LIMITS.maxTextLength));
    assert.deepEqual(await ends(), [0, 0, 0, 0]);
  });

  it('rejects a body that is not a non-empty array', async () => {
    for (const raw of [undefined, null, {}, 'events', []]) {
      await assert.rejects(ingest.submit('acme', raw), hasCode('invalid_body'));
    }
    assert.deepEqual(await ends(), [0, 0, 0, 0]);
  });

  it('rejects a batch over maxBatchSize with limit_exceeded and stores nothing', async () => {
    const batch = Array.from({ length: 6 }, (_, i) => write(`k${i}`));
    await assert.rejects(ingest.submit('acme', batch), hasCode('limit_exceeded', (e) => e.details?.max === 5 && e.details?.actual === 6));
    assert.deepEqual(await ends(), [0, 0, 0, 0]);
  });

  it('reports a duplicate inside one batch with the position of the first copy', async () => {
    const receipt = await ingest.submit('acme', [write('a', { eventId: 'ev-1' }), write('b'), write('a', { eventId: 'ev-1', value: 'second' })]);
    const [first, , again] = receipt.results;
    assert.equal(first!.status, 'accepted');
    assert.deepEqual(again, { eventId: 'ev-1', status: 'duplicate', partition: first!.partition, offset: first!.offset });
    assert.equal((await ends()).reduce((a, b) => a + b, 0), 2);
    // The stored copy is the first one.
    const copy = (await stored(first!.partition)).find((s) => s.record.offset === first!.offset)!;
    assert.deepEqual((copy.event as { value: unknown }).value, { n: 'a' });
  });

  it('reports a duplicate across batches with the first position, and its token still covers it', async () => {
    const first = await ingest.submit('acme', [write('a', { eventId: 'ev-1' })]);
    const before = await ends();
    const second = await ingest.submit('acme', [write('a', { eventId: 'ev-1' }), write('b', { eventId: 'ev-2' })]);
    assert.deepEqual(second.results[0], { ...first.results[0], status: 'duplicate' });
    assert.equal(second.results[1]!.status, 'accepted');
    assert.equal((await ends()).reduce((a, b) => a + b, 0), before.reduce((a, b) => a + b, 0) + 1);
    const token = decodeToken(second.token);
    const p = first.results[0]!.partition;
    assert.ok((token.get(p) ?? -1) >= first.results[0]!.offset);
  });

  it('keeps the event ids of different tenants apart', async () => {
    const a = await ingest.submit('acme', [write('k', { eventId: 'same-id' })]);
    const b = await ingest.submit('beta', [write('k', { eventId: 'same-id' })]);
    assert.equal(a.results[0]!.status, 'accepted');
    assert.equal(b.results[0]!.status, 'accepted');
    assert.equal(b.events[0]!.tenant, 'beta');
    assert.equal((await ends()).reduce((x, y) => x + y, 0), 2);
    // Same event id again for beta is now a duplicate of beta's copy, not acme's.
    const again = await ingest.submit('beta', [write('k', { eventId: 'same-id' })]);
    assert.deepEqual(again.results[0], { ...b.results[0], status: 'duplicate' });
  });

  it('carries the trace context into the record headers and the event', async () => {
    const trace = { traceparent: TRACEPARENT, tracestate: 'vendor=1' };
    const receipt = await ingest.submit('acme', [write('traced')], { trace });
    const { partition, offset } = receipt.results[0]!;
    const found = (await stored(partition)).find((s) => s.record.offset === offset)!;
    assert.equal(found.record.headers.traceparent, TRACEPARENT);
    assert.deepEqual(found.event.trace, trace);

    const plain = await ingest.submit('acme', [write('untraced')]);
    const other = (await stored(plain.results[0]!.partition)).find((s) => s.record.offset === plain.results[0]!.offset)!;
    assert.equal('traceparent' in other.record.headers, false);
    assert.equal(other.event.trace, undefined);
  });

  it('submitOne appends one event built by a shortcut', async () => {
    const receipt = await ingest.submitOne('acme', { type: 'MemoryDeleted', namespace: 'agents/planner', key: 'gone', expectedVersion: 3 });
    assert.equal(receipt.results.length, 1);
    assert.equal(receipt.events[0]!.type, 'MemoryDeleted');
    assert.equal(receipt.events[0]!.expectedVersion, 3);
    const found = (await stored(receipt.results[0]!.partition))[0]!;
    assert.equal(found.event.type, 'MemoryDeleted');
    assert.equal(found.record.headers['event-type'], 'MemoryDeleted');
    await assert.rejects(ingest.submitOne('acme', { type: 'MemoryWritten', namespace: 'n', key: 'bad key' }), hasCode('invalid_key', (e) => e.details?.index === 0));
  });

  it('counts accepted and duplicate events in the ingest metric', async () => {
    await ingest.submit('acme', [write('a', { eventId: 'm-1' }), write('a', { eventId: 'm-1' }), write('b')]);
    const metric = await env.telemetry.metrics.eventsIngested.get();
    const byStatus = Object.fromEntries(metric.values.map((v) => [v.labels.status, v.value]));
    assert.deepEqual(byStatus, { accepted: 2, duplicate: 1 });
  });
});
