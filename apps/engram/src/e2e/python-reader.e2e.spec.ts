/**
 * The wire format is the standard one: a program outside the Node ecosystem reads our topics
 * through the registry. `engram start` (ENGRAM_LOG=kafka) takes a document with text, a counter
 * increment, a set add and a delete; then scripts/engines/read-topic.py, run by the venv python of
 * scripts/engines/python.sh, consumes memory-events, memory-enriched and memory-state with
 * confluent-kafka's Consumer and AvroDeserializer. Its values must be what was written, and equal,
 * field by field, to what our own codecs make of the same bytes. Skips without the engines (Kafka,
 * registry, venv); fails under ENGRAM_REQUIRE_ENGINES=1.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { EnrichedEvent, EventMetadata, MemoryEvent, MemoryState } from '@engram/core';
import { loadConfig } from '@engram/config';
import { createPipelineCodecs, createTopics, type PipelineCodecs, type Topics } from '@engram/pipeline';
import { openPorts, type Ports } from '@engram/runtime';
import { apiClient, eventually, removeDataDir, startEngramProcess, tempDataDir, withEngine, type EngramProcess } from '@engram/testing';

const READ_TOPIC = fileURLToPath(new URL('../../../../scripts/engines/read-topic.py', import.meta.url));
const NS = 'dev.engram.v1.';
type Json = Record<string, unknown>;

/** One line of read-topic.py: the record as confluent-kafka's AvroDeserializer decoded it. */
interface PythonRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string;
  schemaId: number;
  value: Json;
  raw: string;
}

async function readTopic(python: string, brokers: string, registry: string, topic: string): Promise<PythonRecord[]> {
  const args = [READ_TOPIC, '--brokers', brokers, '--registry', registry, '--topic', topic, '--timeout', '30', '--raw'];
  try {
    const { stdout } = await promisify(execFile)(python, args, { maxBuffer: 16 * 1024 * 1024, timeout: 60_000 });
    return stdout.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as PythonRecord);
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    throw new Error(`${python} read-topic.py ${topic} failed: ${(error as Error).message}\n${stderr ?? ''}`, { cause: error });
  }
}

// What our codecs' decoded values look like in read-topic.py's JSON mapping (see its doc): the
// Avro shape, a record branch of a union as {fullName: value}, bytes as base64.
const branch = (name: string, value: unknown): Json | null => (value === undefined ? null : { [`${NS}${name}`]: value });
const jsonText = (value: unknown): string => JSON.stringify(value);

/** The schema's `vector` bytes: float32 values, little-endian, packed. */
function vectorBase64(vector: Float32Array): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((x, i) => bytes.writeFloatLE(x, i * 4));
  return bytes.toString('base64');
}

function metadataView(m: EventMetadata): Json {
  return { agentId: m.agentId ?? null, sessionId: m.sessionId ?? null, runId: m.runId ?? null, tags: m.tags, attributes: m.attributes };
}

function payloadView(e: MemoryEvent): Json {
  switch (e.type) {
    case 'MemoryWritten':
      return { valueJson: jsonText(e.value) };
    case 'MemoryPatched':
      return { patchJson: jsonText(e.patch) };
    case 'MemoryDeleted':
      return {};
    case 'CounterIncremented':
      return { delta: e.delta };
    case 'SetElementsAdded':
    case 'SetElementsRemoved':
      return { elements: e.elements };
  }
}

function eventView(e: MemoryEvent): Json {
  const trace = e.trace && { traceparent: e.trace.traceparent ?? null, tracestate: e.trace.tracestate ?? null };
  return {
    eventId: e.eventId, tenant: e.tenant, namespace: e.namespace, key: e.key, actor: e.actor, hlc: e.hlc,
    expectedVersion: e.expectedVersion ?? null, text: e.text ?? null, vectors: e.vectors ?? null, expiresAt: e.expiresAt ?? null,
    metadata: metadataView(e.metadata), trace: branch('TraceContext', trace), payload: branch(e.type, payloadView(e)),
  };
}

function enrichedView(e: EnrichedEvent): Json {
  return {
    event: eventView(e.event), sourcePartition: e.source.partition, sourceOffset: e.source.offset,
    embeddings: e.embeddings.map((m) => ({ modality: m.modality, model: m.model, revision: m.revision, dims: m.dims, vector: vectorBase64(m.vector) })),
    enrichmentError: e.enrichmentError ?? null,
  };
}

function stateView(s: MemoryState): Json {
  return {
    tenant: s.tenant, namespace: s.namespace, key: s.key, kind: s.kind, valueJson: jsonText(s.value), deleted: s.deleted, text: s.text ?? null,
    metadata: metadataView(s.metadata), version: s.version, hlc: s.hlc, createdHlc: s.createdHlc, versionVector: s.versionVector,
    lastApplied: { partition: s.lastApplied.partition, offset: s.lastApplied.offset }, expiresAt: s.expiresAt ?? null,
    counter: branch('PnCounterState', s.counter && { p: s.counter.p, n: s.counter.n }),
    set: branch('OrSetState', s.set && { adds: s.set.adds, removedAt: s.set.removedAt }),
    embeddingModel: s.embeddingModel ?? null, archive: branch('ArchivePointer', s.archive && { uri: s.archive.uri, archivedAt: s.archive.archivedAt }),
  };
}

withEngine('python reader (kafka)', 'kafka', 'ENGRAM_KAFKA_BROKERS', (brokers) => {
  withEngine('python reader (schema registry)', 'schema registry', 'ENGRAM_SCHEMA_REGISTRY_URL', (registryUrl) => {
    withEngine('python reader (venv python)', 'python', 'ENGRAM_ENGINES_PYTHON', (python) => {
      describe('a Python program (confluent-kafka + AvroDeserializer) decodes our topics through the registry', () => {
        const run = randomBytes(4).toString('hex');
        const prefix = `py-${run}-`; // topics (and so subjects) of this run only
        const topics: Topics = createTopics({ prefix, partitions: 2 });
        const traceparent = `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
        const written = new Map<string, { partition: number; offset: number }>(); // event id → position
        let engram: EngramProcess;
        let ports: Ports | undefined;
        const portsDir = tempDataDir();
        let codecs: PipelineCodecs;
        const read: Record<'events' | 'enriched' | 'state', PythonRecord[]> = { events: [], enriched: [], state: [] };

        before(async () => {
          engram = await startEngramProcess({
            env: {
              ENGRAM_API_KEYS: 'py:key-py', ENGRAM_LOG: 'kafka', ENGRAM_KAFKA_BROKERS: brokers, ENGRAM_SCHEMA_REGISTRY_URL: registryUrl,
              ENGRAM_TOPIC_PREFIX: prefix, ENGRAM_KAFKA_TRANSACTIONAL_ID: `py-${run}`, ENGRAM_PARTITIONS: '2',
            },
          });
          const api = apiClient(engram.baseUrl, 'key-py');
          const applied = async (res: { status: number; body: Json }): Promise<void> => {
            assert.equal(res.status, 200, JSON.stringify(res.body));
            for (const r of (res.body.results as Json[] | undefined) ?? [res.body]) {
              assert.equal((r.outcome as Json).status, 'applied', JSON.stringify(r));
              written.set(r.eventId as string, { partition: r.partition as number, offset: r.offset as number });
            }
          };
          const metadata = { agentId: 'planner', tags: ['py'], attributes: { lang: 'python', n: 7, ratio: 0.5, ok: true } };
          await applied(await api('PUT', `/v1/memories/notes/todo?wait=applied`, { eventId: `doc-${run}`, value: { steps: ['read', 'decode'] }, text: 'read it in python', metadata }, { traceparent }));
          await applied(await api('POST', '/v1/events?wait=applied', { events: [{ eventId: `inc-${run}`, type: 'CounterIncremented', namespace: 'stats', key: 'hits', delta: -3 }] }));
          await applied(await api('POST', '/v1/events?wait=applied', { events: [{ eventId: `add-${run}`, type: 'SetElementsAdded', namespace: 'tags', key: 'colors', elements: ['red', 'blue'] }] }));
          await applied(await api('PUT', `/v1/memories/notes/gone?wait=applied`, { eventId: `tmp-${run}`, value: 'short-lived' }));
          await applied(await api('DELETE', `/v1/memories/notes/gone?wait=applied`));
          // ?wait=applied covers memory-events and memory-enriched; the changelog emitter appends to
          // memory-state on its own time, so that topic is read again until it has caught up.
          const [events, enriched] = await Promise.all([topics.events, topics.enriched].map((topic) => readTopic(python, brokers, registryUrl, topic)));
          const finalVersions: Record<string, number> = { 'notes/todo': 1, 'stats/hits': 1, 'tags/colors': 1, 'notes/gone': 2 };
          const state = await eventually(async () => {
            const records = await readTopic(python, brokers, registryUrl, topics.state);
            const latest = latestStates(records);
            return Object.entries(finalVersions).every(([entity, version]) => latest.get(entity)?.version === version) ? records : undefined;
          }, 40_000, 200);
          Object.assign(read, { events, enriched, state });
          // Our own codecs, through the same registry (the Kafka log's registry adapter, as the app opens it).
          const config = loadConfig({ ENGRAM_LOG: 'kafka', ENGRAM_KAFKA_BROKERS: brokers, ENGRAM_SCHEMA_REGISTRY_URL: registryUrl, ENGRAM_DATA_DIR: portsDir, ENGRAM_EMBEDDER: 'hash' });
          ports = await openPorts(config, new Set());
          codecs = await createPipelineCodecs(ports.registry, topics);
        });

        after(async () => {
          await ports?.close();
          removeDataDir(portsDir);
          const code = await engram?.stop();
          if (engram !== undefined) removeDataDir(engram.dataDir);
          assert.equal(code, 0, 'SIGTERM shuts down cleanly');
        });

        it('memory-events: every written event, at the position ingest reported, keyed tenant|eventId', () => {
          assert.equal(read.events.length, 5);
          for (const r of read.events) {
            const id = r.value.eventId as string;
            assert.deepEqual({ partition: r.partition, offset: r.offset }, written.get(id), id);
            assert.equal(r.key, `py|${id}`);
            assert.equal(r.value.tenant, 'py');
          }
          const byId = new Map(read.events.map((r) => [r.value.eventId as string, r.value]));
          const doc = byId.get(`doc-${run}`)!;
          assert.deepEqual([doc.namespace, doc.key, doc.text, doc.actor], ['notes', 'todo', 'read it in python', 'planner']);
          assert.deepEqual(doc.payload, { [`${NS}MemoryWritten`]: { valueJson: '{"steps":["read","decode"]}' } });
          assert.deepEqual(doc.metadata, { agentId: 'planner', sessionId: null, runId: null, tags: ['py'], attributes: { lang: 'python', n: 7, ratio: 0.5, ok: true } });
          assert.deepEqual(doc.trace, { [`${NS}TraceContext`]: { traceparent, tracestate: null } });
          assert.deepEqual(byId.get(`inc-${run}`)!.payload, { [`${NS}CounterIncremented`]: { delta: -3 } });
          assert.deepEqual(byId.get(`add-${run}`)!.payload, { [`${NS}SetElementsAdded`]: { elements: ['blue', 'red'] } }); // ingest sorts them
          const deletes = read.events.filter((r) => `${NS}MemoryDeleted` in (r.value.payload as Json));
          assert.equal(deletes.length, 1);
          assert.deepEqual([deletes[0]!.value.namespace, deletes[0]!.value.key, deletes[0]!.value.payload], ['notes', 'gone', { [`${NS}MemoryDeleted`]: {} }]);
        });

        it('memory-enriched: each event once, pointing at its memory-events position, with its embedding', () => {
          assert.deepEqual(read.enriched.map((r) => r.value.event).sort(byEventId), read.events.map((r) => r.value).sort(byEventId));
          for (const r of read.enriched) {
            const id = (r.value.event as Json).eventId as string;
            assert.deepEqual({ partition: r.value.sourcePartition, offset: r.value.sourceOffset }, written.get(id), id);
          }
          const doc = read.enriched.find((r) => (r.value.event as Json).eventId === `doc-${run}`)!;
          const [embedding] = doc.value.embeddings as Json[];
          assert.equal(Buffer.from(embedding!.vector as string, 'base64').length, 4 * (embedding!.dims as number));
        });

        it('memory-state: the latest state of each memory is what was written', () => {
          const latest = latestStates(read.state);
          const state = (namespace: string, key: string): Json => {
            const found = latest.get(`${namespace}/${key}`);
            assert.ok(found, `no state for ${namespace}/${key}`);
            return found;
          };
          const todo = state('notes', 'todo');
          assert.deepEqual([todo.kind, todo.valueJson, todo.text, todo.deleted, todo.version], ['document', '{"steps":["read","decode"]}', 'read it in python', false, 1]);
          const hits = state('stats', 'hits');
          assert.deepEqual([hits.kind, hits.valueJson, hits.counter], ['counter', '-3', { [`${NS}PnCounterState`]: { p: {}, n: { anonymous: 3 } } }]);
          const colors = state('tags', 'colors');
          assert.deepEqual([colors.kind, colors.valueJson], ['set', '["blue","red"]']);
          const gone = state('notes', 'gone');
          assert.deepEqual([gone.deleted, gone.valueJson, gone.version], [true, 'null', 2]);
        });

        it('every record: the schema id in its header is its subject\'s, and our codecs decode the same bytes to the same fields', async () => {
          const subjects = { events: topics.events, enriched: topics.enriched, state: topics.state } as const;
          const views = { events: (b: Buffer) => codecs.event.decode(b).then(eventView), enriched: (b: Buffer) => codecs.enriched.decode(b).then(enrichedView), state: (b: Buffer) => codecs.state.decode(b).then(stateView) };
          for (const name of ['events', 'enriched', 'state'] as const) {
            assert.ok(read[name].length > 0, `${name} is empty`);
            // A fresh subject has one version: the schema every record of the topic names.
            const latest = await ports!.registry.getLatest(`${subjects[name]}-value`);
            for (const r of read[name]) {
              const bytes = Buffer.from(r.raw, 'base64');
              assert.equal(bytes[0], 0, 'magic byte');
              assert.equal(bytes.readInt32BE(1), r.schemaId);
              assert.equal(r.schemaId, latest?.id, `the schema id of ${subjects[name]}-value`);
              assert.deepEqual(r.value, await views[name](bytes), `${r.topic} ${r.partition}:${r.offset}`);
            }
          }
        });
      });
    });
  });
});

/** The newest state of each memory (`namespace/key`): records of one entity share a key, so a partition. */
function latestStates(records: PythonRecord[]): Map<string, Json> {
  const latest = new Map<string, Json>();
  for (const r of [...records].sort((a, b) => a.offset - b.offset)) latest.set(`${r.value.namespace as string}/${r.value.key as string}`, r.value);
  return latest;
}

function byEventId(a: unknown, b: unknown): number {
  return ((a as Json).eventId as string).localeCompare((b as Json).eventId as string);
}
