/**
 * Vector indexing from the log: events/s from `memory-enriched` into the HNSW index through
 * Engram's vector indexer (`startVectorIndexer`: the consumer loop, decode, wait for the KV
 * watermark, read states and stored embeddings from KV, version-guarded upserts, its watermark),
 * beside the same vectors inserted directly, in the same run:
 * - raw hnswlib (`addPoint` per vector, in memory only),
 * - Engram's embedded index called directly (`upsert` of batches of 100: durable LMDB commit, then
 *   the graph),
 * all with the same M and efConstruction (the embedded index's defaults, 16 and 100) and 384-d
 * clustered vectors. The pipeline run reads records the projection has already applied (appending
 * and projecting them is set-up, not timed), so the figure is the indexer's alone: it should be
 * limited by the index, and "pipeline / direct upsert" says how close it gets.
 *
 *   node --import tsx bench/pipeline-indexing.bench.ts [--quick] [--runs 3] [--count 20000]
 */
import { join } from 'node:path';
import { encodeEntityId, hlcFromWallMs, partitionForEntity, type EnrichedEvent, type MemoryEvent } from '@engram/core';
import {
  createAppliedWatermarks,
  createDeadLetterSink,
  createPipelineCodecs,
  createTelemetry,
  createTopics,
  createVectorCollections,
  ensureCollections,
  eventRecordKey,
  startProjectionWorker,
  startVectorIndexer,
  topicSpecs,
  vectorWatermarkKey,
} from '@engram/pipeline';
import { createHnswVectorIndex, createLmdbEventLog, createLmdbKvStore, createLmdbSchemaRegistry, createLruCache, type LogRecord } from '@engram/ports';
import { intOption, parseBenchArgs } from './lib/args.js';
import { engramScenario, measureInsertRate, rawHnswScenario } from './lib/indexing.js';
import { printMachine } from './lib/machine.js';
import { printComparison, printJsonLine } from './lib/report.js';
import { repeat, type Metrics } from './lib/runner.js';
import { withTempDir } from './lib/temp.js';
import { nowMs } from './lib/timer.js';
import { clusteredVectors, row } from './lib/vectors.js';

const args = parseBenchArgs(process.argv.slice(2), 3);
const dims = 384;
const count = args.quick ? 2_000 : intOption(args, 'count', 20_000);
const partitions = 8;
const graph = { dims, M: 16, efConstruction: 100 };
const TEXT_MODEL = { id: 'hash-v1', revision: '1', dims };

const machine = printMachine();
console.log(`pipeline indexing: ${count} vectors × ${dims} dims, M=${graph.M}, efConstruction=${graph.efConstruction}, ${partitions} partitions`);
const data = clusteredVectors({ count, dims, clusters: 1000, noise: 1, seed: 42 });

/** Appends `count` MemoryWritten events and their enriched records (each carrying vector i), projects them, then times the vector indexer. */
async function pipelineRun(dir: string): Promise<number> {
  const telemetry = createTelemetry({ level: 'silent', defaultMetrics: false });
  const log = createLmdbEventLog({ path: join(dir, 'log') });
  const registry = createLmdbSchemaRegistry({ path: join(dir, 'registry') });
  const kv = createLmdbKvStore({ path: join(dir, 'kv') });
  const vectors = await createHnswVectorIndex({ path: join(dir, 'vectors'), M: graph.M, efConstruction: graph.efConstruction });
  const kvWatermarks = createAppliedWatermarks({ kv, partitions });
  const vectorWatermarks = createAppliedWatermarks({ kv, partitions, keyFor: vectorWatermarkKey });
  try {
    const topics = createTopics({ partitions });
    for (const spec of topicSpecs(topics)) await log.ensureTopic(spec);
    const codecs = await createPipelineCodecs(registry, topics);
    const collections = createVectorCollections({ textModel: TEXT_MODEL, clientModalities: {} });
    await ensureCollections(vectors, collections);
    const deadLetters = createDeadLetterSink({ log, codecs, topics, telemetry });
    const common = { log, codecs, topics, deadLetters, telemetry, kv };

    // Set-up: what ingest and the enrichment worker would have written, 1,000 events per append.
    const last = new Map<number, number>();
    const base = Date.now();
    for (let first = 0; first < count; first += 1000) {
      const events: MemoryEvent[] = [];
      for (let i = first; i < Math.min(count, first + 1000); i++) {
        events.push({
          type: 'MemoryWritten', eventId: `ev-${i}`, tenant: 'bench', namespace: 'bench/index', key: `m-${i}`, actor: 'agent-1',
          hlc: hlcFromWallMs(base + i), metadata: { tags: [], attributes: {} }, value: { i },
        });
      }
      const partitionOf = (e: MemoryEvent): number => partitionForEntity(encodeEntityId(e), partitions);
      const sources = await log.append(topics.events, events.map((e): LogRecord => ({ key: eventRecordKey(e.tenant, e.eventId), partition: partitionOf(e), value: codecs.event.encode(e) })));
      const enriched = events.map((event, j): LogRecord => {
        const source = { partition: partitionOf(event), offset: sources[j]!.offset };
        last.set(source.partition, Math.max(source.offset, last.get(source.partition) ?? -1));
        const record: EnrichedEvent = { event, source, embeddings: [{ modality: 'text', model: TEXT_MODEL.id, revision: TEXT_MODEL.revision, dims, vector: row(data, dims, first + j) }] };
        return { key: eventRecordKey(event.tenant, event.eventId), partition: source.partition, value: codecs.enriched.encode(record) };
      });
      await log.append(topics.enriched, enriched);
    }
    const projection = startProjectionWorker({ ...common, cache: createLruCache(), watermarks: kvWatermarks });
    await kvWatermarks.waitFor(last, 600_000);
    await projection.stop();

    // Timed: the vector indexer from the start of its consumer loop until its watermark covers every event.
    const start = nowMs();
    const indexer = startVectorIndexer({ ...common, vectors, collections, kvWatermarks, vectorWatermarks });
    await vectorWatermarks.waitFor(last, 600_000);
    const seconds = (nowMs() - start) / 1000;
    await indexer.stop();
    const indexed = await vectors.count(collections.nameFor('text')!);
    if (indexed !== count) throw new Error(`the vector index holds ${indexed} items, expected ${count}`);
    return count / seconds;
  } finally {
    kvWatermarks.close();
    vectorWatermarks.close();
    await vectors.close();
    await kv.close();
    await log.close();
    await registry.close();
  }
}

const results = await repeat({ label: 'pipeline-indexing', runs: args.runs }, async () => {
  const m: Metrics = {};
  m['raw.insertsPerS'] = (await measureInsertRate(rawHnswScenario(graph, count).scenario, data, dims, count, 100)).perSecond;
  m['index.insertsPerS'] = await withTempDir(async (path) => {
    const { scenario, index } = await engramScenario({ ...graph, path, collection: 'bench', tenantOf: () => 'bench' });
    try {
      return (await measureInsertRate(scenario, data, dims, count, 100)).perSecond;
    } finally {
      await index.close();
    }
  });
  m['pipeline.eventsPerS'] = await withTempDir(pipelineRun);
  return m;
});

const med = results.median;
printComparison(`Vector indexing, ${count} × ${dims}-d (medians of ${args.runs} runs; items/s)`, med, [
  { label: 'pipeline (vector indexer from the log) vs raw hnswlib', ours: 'pipeline.eventsPerS', raw: 'raw.insertsPerS' },
  { label: 'pipeline vs embedded index upsert', ours: 'pipeline.eventsPerS', raw: 'index.insertsPerS' },
  { label: 'embedded index upsert vs raw hnswlib', ours: 'index.insertsPerS', raw: 'raw.insertsPerS' },
], { ours: 'ours', raw: 'baseline' });
printJsonLine({ bench: 'pipeline-indexing', machine, params: { count, partitions, ...graph, runs: args.runs }, results });
