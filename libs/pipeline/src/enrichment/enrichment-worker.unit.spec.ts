import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS, UnavailableError, createHybridClock, type EnrichedEvent } from '@engram/core';
import { createHashEmbedder, type Embedder, type LogConsumer, type StoredRecord } from '@engram/ports';
import { createIngestService, type IngestService } from '../ingest/ingest-service.js';
import { createLogEnv, createRecordingDeadLetters, waitUntil, type LogEnv } from '../pipeline.spec-helper.js';
import { createEnricher, startEnrichmentWorker, type EnrichmentWorkerOptions } from './enrichment-worker.js';

const GROUP = 'enrich-test';
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

const event = (key: string, extra: Record<string, unknown> = {}) => ({ type: 'MemoryWritten', namespace: 'notes', key, value: key, ...extra });

/** An embedder that always fails, counting its calls. */
function brokenEmbedder(): Embedder & { calls: number } {
  const model = { id: 'broken', revision: '1', dims: 8 };
  const self = {
    model,
    calls: 0,
    async embed(): Promise<Float32Array[]> {
      self.calls++;
      throw new UnavailableError('embedder_unavailable', 'model server down');
    },
    async close() {},
  };
  return self;
}

describe('enrichment (the sequencer)', () => {
  let env: LogEnv;
  let ingest: IngestService;
  let embedder: Embedder;
  beforeEach(async () => {
    env = await createLogEnv({ partitions: 2 });
    ingest = createIngestService({
      log: env.log,
      codecs: env.codecs,
      topics: env.topics,
      limits: { ...DEFAULT_LIMITS, vectorDims: { image: 3 } },
      clock: createHybridClock(),
      telemetry: env.telemetry,
    });
    embedder = createHashEmbedder({ dims: 8 });
  });
  afterEach(() => env.close());

  function options(overrides: Partial<EnrichmentWorkerOptions> = {}): EnrichmentWorkerOptions {
    return { log: env.log, embedder, codecs: env.codecs, topics: env.topics, deadLetters: createRecordingDeadLetters(), telemetry: env.telemetry, embedBackoffMs: 1, ...overrides };
  }

  /** Every record of memory-events, as a fresh consumer would poll them. */
  async function pollAll(): Promise<{ records: StoredRecord[]; consumer: LogConsumer }> {
    const consumer = env.log.consumer({ group: GROUP, topic: env.topics.events });
    const total = (await env.log.endOffsets(env.topics.events)).reduce((a, b) => a + b, 0);
    const records: StoredRecord[] = [];
    while (records.length < total) records.push(...(await consumer.poll({ maxRecords: 500, timeoutMs: 100 })));
    return { records, consumer };
  }

  async function enriched(): Promise<Array<{ record: StoredRecord; value: EnrichedEvent }>> {
    const out: Array<{ record: StoredRecord; value: EnrichedEvent }> = [];
    for (let p = 0; p < env.topics.partitions; p++) {
      for (const record of await env.log.read(env.topics.enriched, p, 0, 1000)) out.push({ record, value: await env.codecs.enriched.decode(record.value!) });
    }
    return out;
  }

  const byKey = <T extends { value: EnrichedEvent }>(list: T[], key: string): T => list.find((e) => e.value.event.key === key)!;

  it('embeds texts with the embedder, keeping source position, key, partition and headers', async () => {
    const receipt = await ingest.submit('acme', [event('a', { text: 'alpha beta' }), event('b'), event('c', { text: '' }), event('d', { text: 'gamma' })], { trace: { traceparent: TRACEPARENT } });
    const { records, consumer } = await pollAll();
    await createEnricher(options(), GROUP, consumer)(records);
    await consumer.close();

    const out = await enriched();
    assert.equal(out.length, 4);
    const [alpha, gamma] = await embedder.embed(['alpha beta', 'gamma']);
    for (const [key, vector] of [['a', alpha], ['d', gamma]] as const) {
      const { value } = byKey(out, key);
      assert.equal(value.embeddings.length, 1);
      const [e] = value.embeddings;
      assert.deepEqual({ modality: e!.modality, model: e!.model, revision: e!.revision, dims: e!.dims }, { modality: 'text', model: 'hash-v1', revision: '1', dims: 8 });
      assert.deepEqual([...e!.vector], [...vector!]);
      assert.equal(value.enrichmentError, undefined);
    }
    assert.deepEqual(byKey(out, 'b').value.embeddings, [], 'no text, no embedding');
    assert.deepEqual(byKey(out, 'c').value.embeddings, [], 'empty text is not embedded');
    for (const [i, result] of receipt.results.entries()) {
      const item = byKey(out, receipt.events[i]!.key);
      assert.deepEqual(item.value.source, { partition: result.partition, offset: result.offset });
      assert.equal(item.record.partition, result.partition, 'memory-enriched keeps the partition number');
      const source = records.find((r) => r.partition === result.partition && r.offset === result.offset)!;
      assert.equal(item.record.key, source.key);
      assert.equal(item.record.headers.traceparent, TRACEPARENT);
    }
  });

  it('turns client vectors into client:<modality> embeddings next to the text one', async () => {
    await ingest.submit('acme', [event('pic', { text: 'a cat', vectors: { image: [0.5, -1, 2] } })]);
    const { records, consumer } = await pollAll();
    await createEnricher(options(), GROUP, consumer)(records);
    await consumer.close();
    const out = await enriched();
    assert.equal(out.length, 1);
    const { value } = out[0]!;
    const image = value.embeddings.find((e) => e.modality === 'image');
    assert.ok(image);
    assert.deepEqual({ model: image.model, revision: image.revision, dims: image.dims }, { model: 'client:image', revision: '1', dims: 3 });
    assert.ok(image.vector instanceof Float32Array);
    assert.deepEqual([...image.vector], [0.5, -1, 2]);
    assert.deepEqual(value.embeddings.map((e) => e.modality).sort(), ['image', 'text']);
  });

  it('after failed retries still emits the events, with enrichmentError, and dead-letters each text as embedding_failed', async () => {
    await ingest.submit('acme', [event('t1', { text: 'one' }), event('plain'), event('t2', { text: 'two', vectors: { image: [1, 2, 3] } })]);
    const broken = brokenEmbedder();
    const deadLetters = createRecordingDeadLetters();
    const { records, consumer } = await pollAll();
    await createEnricher(options({ embedder: broken, deadLetters, embedAttempts: 3 }), GROUP, consumer)(records);
    await consumer.close();

    assert.equal(broken.calls, 3);
    const out = await enriched();
    assert.equal(out.length, 3);
    assert.equal(byKey(out, 't1').value.enrichmentError, 'model server down');
    assert.deepEqual(byKey(out, 't1').value.embeddings, []);
    assert.equal(byKey(out, 't2').value.enrichmentError, 'model server down');
    assert.deepEqual(byKey(out, 't2').value.embeddings.map((e) => e.model), ['client:image'], 'client vectors survive');
    assert.equal(byKey(out, 'plain').value.enrichmentError, undefined);
    assert.deepEqual(
      deadLetters.sent.map((d) => [d.code, d.attempts, d.reason]),
      [['embedding_failed', 3, 'model server down'], ['embedding_failed', 3, 'model server down']],
    );
    const lettered = await Promise.all(deadLetters.sent.map(async (d) => (await env.codecs.event.decode(d.record.value!)).key));
    assert.deepEqual(lettered.sort(), ['t1', 't2']);
    assert.deepEqual(await env.log.committedOffsets(GROUP, env.topics.events), await env.log.endOffsets(env.topics.events));
  });

  it('dead-letters an undecodable record and lets the rest through, committing past it', async () => {
    await ingest.submit('acme', [event('before')]);
    await env.log.append(env.topics.events, [{ key: 'acme|garbage', value: Buffer.from('not avro at all'), partition: 0 }]);
    await env.log.append(env.topics.events, [{ key: 'acme|tombstone', value: null, partition: 1 }]);
    await ingest.submit('acme', [event('after')]);
    const deadLetters = createRecordingDeadLetters();
    const { records, consumer } = await pollAll();
    await createEnricher(options({ deadLetters }), GROUP, consumer)(records);
    await consumer.close();

    assert.deepEqual(deadLetters.sent.map((d) => [d.record.key, d.code]), [['acme|garbage', 'undecodable_record']]);
    assert.deepEqual((await enriched()).map((e) => e.value.event.key).sort(), ['after', 'before']);
    assert.deepEqual(await env.log.committedOffsets(GROUP, env.topics.events), await env.log.endOffsets(env.topics.events));
  });

  it('commits the consumer offsets in the same append as its output, not through the consumer', async () => {
    await ingest.submit('acme', [event('x', { text: 'x' }), event('y'), event('z')]);
    const { records, consumer } = await pollAll();
    let consumerCommits = 0;
    const spy: LogConsumer = { poll: (o) => consumer.poll(o), assignment: () => consumer.assignment(), close: () => consumer.close(), commit: async () => void consumerCommits++ };
    assert.deepEqual(await env.log.committedOffsets(GROUP, env.topics.events), [0, 0]);
    await createEnricher(options(), GROUP, spy)(records);
    await consumer.close();
    assert.equal(consumerCommits, 0);
    assert.deepEqual(await env.log.committedOffsets(GROUP, env.topics.events), await env.log.endOffsets(env.topics.events));
  });

  it('commits through the consumer when a batch has nothing to emit', async () => {
    await env.log.append(env.topics.events, [{ key: 'acme|junk', value: Buffer.from([0, 0, 0, 0, 99, 1]), partition: 1 }]);
    const { records, consumer } = await pollAll();
    const commits: unknown[] = [];
    const spy: LogConsumer = { poll: (o) => consumer.poll(o), assignment: () => consumer.assignment(), close: () => consumer.close(), commit: async (offsets) => void commits.push(offsets) };
    await createEnricher(options(), GROUP, spy)(records);
    await consumer.close();
    assert.deepEqual(commits, [[{ partition: 1, offset: 1 }]]);
    assert.deepEqual(await env.log.endOffsets(env.topics.enriched), [0, 0]);
  });

  it('appends nothing new when the same records are delivered again (after a crash)', async () => {
    await ingest.submit('acme', [event('a', { text: 'one' }), event('b'), event('c', { text: 'three' })]);
    const { records, consumer } = await pollAll();
    const enrich = createEnricher(options(), GROUP, consumer);
    await enrich(records);
    const ends = await env.log.endOffsets(env.topics.enriched);
    assert.equal(ends.reduce((a, b) => a + b, 0), 3);
    await enrich(records);
    // A worker that restarts before its commit is durable gets the same records again.
    await createEnricher(options(), GROUP, consumer)(records.slice(1));
    await consumer.close();
    assert.deepEqual(await env.log.endOffsets(env.topics.enriched), ends);
    assert.equal((await enriched()).length, 3);
  });

  it('embeds at most maxBatch texts per call, and a call that fails for good fails only its own texts', async () => {
    const texts = ['alpha', 'bravo', 'fail me', 'delta', 'echo'];
    await ingest.submit('acme', [...texts.map((text, i) => event(`t${i}`, { text })), event('plain')]);
    const hash = createHashEmbedder({ dims: 8 });
    const calls: string[][] = [];
    const picky: Embedder = {
      model: hash.model,
      async embed(batch) {
        calls.push([...batch]);
        if (batch.includes('fail me')) throw new UnavailableError('embedder_unavailable', 'cannot embed that');
        return hash.embed(batch);
      },
      close: async () => undefined,
    };
    const deadLetters = createRecordingDeadLetters();
    const { records, consumer } = await pollAll();
    await createEnricher(options({ embedder: picky, deadLetters, embedAttempts: 2, maxBatch: 2 }), GROUP, consumer)(records);
    await consumer.close();

    assert.ok(calls.every((c) => c.length >= 1 && c.length <= 2), `call sizes ${calls.map((c) => c.length).join(',')}`);
    const failedCall = calls.find((c) => c.includes('fail me'))!;
    assert.equal(calls.filter((c) => c.join() === failedCall.join()).length, 2, 'the failing call was retried, embedAttempts = 2');
    const out = await enriched();
    assert.equal(out.length, 6);
    for (const [i, text] of texts.entries()) {
      const { value } = byKey(out, `t${i}`);
      if (failedCall.includes(text)) {
        assert.equal(value.enrichmentError, 'cannot embed that', text);
        assert.deepEqual(value.embeddings, [], text);
      } else {
        assert.equal(value.enrichmentError, undefined, text);
        assert.deepEqual(value.embeddings.map((e) => e.modality), ['text'], text);
      }
    }
    assert.equal(byKey(out, 'plain').value.enrichmentError, undefined);
    assert.deepEqual(deadLetters.sent.map((d) => d.code), failedCall.map(() => 'embedding_failed'));
  });

  it('the worker loop sequences what ingest appends, once', async () => {
    const worker = startEnrichmentWorker({ ...options(), group: GROUP, maxBatch: 2, maxRecords: 3 });
    try {
      await ingest.submit('acme', [event('w1', { text: 'first' }), event('w2'), event('w3', { text: 'third' })]);
      await ingest.submit('acme', [event('w4'), event('w5', { text: 'fifth' })]);
      const expected = (await env.log.endOffsets(env.topics.events)).reduce((a, b) => a + b, 0);
      await waitUntil(async () => (await env.log.endOffsets(env.topics.enriched)).reduce((a, b) => a + b, 0) === expected, 5000, 'enrichment');
      await waitUntil(async () => (await env.log.committedOffsets(GROUP, env.topics.events)).join() === (await env.log.endOffsets(env.topics.events)).join(), 5000, 'commit');
    } finally {
      await worker.stop();
    }
    const keys = (await enriched()).map((e) => e.value.event.key).sort();
    assert.deepEqual(keys, ['w1', 'w2', 'w3', 'w4', 'w5']);
  });
});
