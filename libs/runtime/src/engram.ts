/**
 * Starts Engram's apps in this process: any subset of ingest, query, enrichment and projection,
 * over the ports the configuration chooses. `engram start` runs all four (ingest and query routes
 * share one HTTP port); `engram <app>` runs one. Same code path either way, different adapters.
 */
import type { AddressInfo } from 'node:net';
import type { EngramConfig } from '@engram/config';
import { createHybridClock } from '@engram/core';
import {
  createApiKeyAuth,
  createAppliedWatermarks,
  createDeadLetterSink,
  createPipelineCodecs,
  createHttpServer,
  createIngestService,
  createQueryService,
  createSearchService,
  createSignal,
  createSubscriptionService,
  createTelemetry,
  createConsumerGroups,
  createMemoryKeywordIndex,
  createTopics,
  createVectorCollections,
  ensureCollections,
  recordHandoffFor,
  ingestRoutes,
  opsRoutes,
  queryRoutes,
  startEnrichmentWorker,
  startProjectionWorker,
  startVectorIndexer,
  startKeywordIndexer,
  startChangelogEmitter,
  startExpirySweeper,
  changelogWatermarkKey,
  vectorWatermarkKey,
  topicSpecs,
  watermarkKey,
  type AppliedWatermarks,
  type ConsumerLoop,
  type HttpServer,
  type PipelineCodecs,
  type Signal,
  type ReadinessCheck,
  type Route,
  type Telemetry,
  type Topics,
} from '@engram/pipeline';
import type { Cache, EventLog, KvStore } from '@engram/ports';

import { embedderInfo, need, openPorts, type OptionalPort } from './ports.js';
import { startProjectionThread, type ProjectionThread } from './projection-thread.js';

export const ROLES = ['ingest', 'query', 'enrichment', 'projection'] as const;
export type Role = (typeof ROLES)[number];

/** Beyond the log and the registry, which every role uses. */
const PORTS_BY_ROLE: Record<Role, OptionalPort[]> = {
  ingest: ['kv', 'cache'], // reads outcomes for ?wait=applied
  query: ['kv', 'vectors', 'cache', 'embedder'],
  enrichment: ['embedder'],
  projection: ['kv', 'vectors', 'cache'],
};

export interface EngramOptions {
  roles: readonly Role[];
  /** Shows the generated admin key once. @default console.log */
  announce?: (message: string) => void;
  telemetry?: Telemetry;
}

export interface RunningEngram {
  address: AddressInfo;
  telemetry: Telemetry;
  /** Rejects if a worker loop crashes. */
  crashed: Promise<never>;
  stop(): Promise<void>;
}

export async function startEngram(config: EngramConfig, options: EngramOptions): Promise<RunningEngram> {
  const telemetry = options.telemetry ?? createTelemetry({ level: config.logLevel });
  const roles = new Set(options.roles);
  const ports = await openPorts(config, new Set([...roles].flatMap((r) => PORTS_BY_ROLE[r])), telemetry.logger);
  telemetry.logger.info({ roles: [...roles], adapters: ports.adapters, dataDir: config.dataDir }, 'engram starting');
  const { log } = ports;

  const topics = createTopics({ prefix: config.topicPrefix, partitions: config.partitions, replicationFactor: config.replicationFactor });
  const groups = createConsumerGroups(config.topicPrefix);
  for (const spec of topicSpecs(topics)) await log.ensureTopic(spec);
  const codecs = await createPipelineCodecs(ports.registry, topics);
  // Only the roles that hold vectors need the model's identity (and so its files).
  const collections = ports.vectors && createVectorCollections({ textModel: await embedderInfo(config), clientModalities: config.vectorDims });
  if (ports.vectors) await ensureCollections(ports.vectors, collections!);
  // A process that runs the projection hears of its progress from it (after the batch's cache
  // entries), not from KV; see applied-watermarks.ts.
  const watermarks = ports.kv && createAppliedWatermarks({ kv: ports.kv, partitions: topics.partitions, follow: roles.has('projection') ? 'announced' : 'kv' });
  await watermarks?.load();
  const vectorWatermarks = ports.kv && createAppliedWatermarks({ kv: ports.kv, partitions: topics.partitions, keyFor: vectorWatermarkKey });
  const deadLetters = createDeadLetterSink({ log, codecs, topics, telemetry });
  const stateAppended = createSignal();
  const common = { log, codecs, topics, deadLetters, telemetry };
  const keywordsInMemory = roles.has('query') && keywordIndexIn(config) === 'memory';

  const loops: ConsumerLoop[] = [];
  if (roles.has('enrichment')) loops.push(startEnrichmentWorker({ ...common, group: groups.enrichment, embedder: need(ports.embedder, 'embedder'), maxBatch: config.embedBatchMax, lingerMs: config.embedLingerMs }));
  let projectionThread: ProjectionThread | undefined;
  if (roles.has('projection')) {
    const kv = need(ports.kv, 'kv');
    const cache = need(ports.cache, 'cache');
    if (usesProjectionThread(config, roles)) {
      projectionThread = await startProjectionThread(config, { kv, log, cache, watermarks: watermarks!, stateAppended, handoff: recordHandoffFor(log, topics.enriched), telemetry });
    } else {
      loops.push(...startProjectionStage({ config, log, codecs, topics, telemetry, kv, cache, watermarks: watermarks!, stateAppended }));
    }
    loops.push(startVectorIndexer({ ...common, group: groups.vectors, kv, vectors: need(ports.vectors, 'vectors'), collections: need(collections, 'vectors'), kvWatermarks: watermarks!, vectorWatermarks: vectorWatermarks!, maxBatch: config.vectorBatchMax }));
  }
  const ingest = roles.has('ingest') || roles.has('projection') ? createIngestService({ log, codecs, topics, limits: config.limits, clock: createHybridClock(), telemetry }) : undefined;
  const sweeper = roles.has('projection') ? startExpirySweeper({ kv: need(ports.kv, 'kv'), ingest: ingest!, telemetry, intervalMs: config.expirySweepMs }) : undefined;
  const lag = startLagGauge(log, topics, telemetry, [
    ...(roles.has('enrichment') ? [{ group: groups.enrichment, topic: topics.events }] : []),
    ...(roles.has('projection')
      ? [groups.projection, groups.vectors, groups.changelog].map((group) => ({ group, topic: topics.enriched }))
      : []),
    ...(keywordsInMemory ? [{ group: groups.keywords, topic: topics.enriched }] : []),
  ]);

  // Every app serves HTTP: the API routes of its roles, and health, readiness and metrics for all.
  let stopping = false;
  let keywordWatermarks: AppliedWatermarks | undefined;
  const routes: Route[] = [];
  if (roles.has('ingest') || roles.has('query')) {
    const kv = need(ports.kv, 'kv');
    const query = createQueryService({ kv, cache: need(ports.cache, 'cache'), watermarks: watermarks!, limits: config.limits, consistencyTimeoutMs: config.consistencyTimeoutMs, telemetry });
    if (roles.has('ingest')) routes.push(...ingestRoutes({ ingest: ingest!, query }));
    if (roles.has('query')) {
      const keyword = keywordsInMemory ? createMemoryKeywordIndex() : undefined;
      if (keyword) {
        keywordWatermarks = createAppliedWatermarks({ partitions: topics.partitions });
        loops.push(await startKeywordIndexer({ ...common, group: groups.keywords, kv, index: keyword, kvWatermarks: watermarks!, keywordWatermarks, maxBatch: projectionBatchMax(config, false) }));
      }
      const search = createSearchService({ kv, vectors: need(ports.vectors, 'vectors'), embedder: need(ports.embedder, 'embedder'), collections: need(collections, 'vectors'), query, vectorWatermarks: vectorWatermarks!, keyword: keyword?.postings, keywordWatermarks, consistencyTimeoutMs: config.consistencyTimeoutMs, telemetry });
      const subscriptions = createSubscriptionService({ log, codecs, topics, stateAppended });
      routes.push(...queryRoutes({ query, search, subscriptions, maxTextLength: config.limits.maxTextLength }));
    }
  }
  const checks: ReadinessCheck[] = [{ name: 'log', check: async () => void (await log.endOffsets(topics.events)) }];
  if (ports.kv) checks.push({ name: 'kv', check: async () => void (await ports.kv!.get(watermarkKey(0))) });
  if (ports.vectors) checks.push({ name: 'vectors', check: async () => void (await ports.vectors!.count(collections!.nameFor('text')!)) });
  routes.push(...opsRoutes({ registry: telemetry.metrics.registry, isReady: () => !stopping, checks, otherThreads: projectionThread ? [projectionThread.metrics] : [] }));

  const auth = createApiKeyAuth({ keys: config.apiKeys, dataDir: config.dataDir, announce: options.announce ?? ((m) => console.log(m)) });
  const http: HttpServer = createHttpServer({ routes, auth, telemetry, maxBodyBytes: config.limits.maxBodyBytes });
  const address = await http.listen(config.port, config.host);
  const projectionOn = projectionThread ? 'projection thread' : roles.has('projection') ? 'main thread' : undefined;
  telemetry.logger.info({ address: `http://${address.address}:${address.port}`, projectionOn }, 'engram listening');

  const crashed = Promise.race([
    ...loops.map((l) => l.done.then(() => new Promise<never>(() => undefined))),
    ...(projectionThread ? [projectionThread.crashed] : []),
  ]) as Promise<never>;
  crashed.catch(() => undefined);

  return {
    address,
    telemetry,
    crashed,
    async stop() {
      if (stopping) return;
      stopping = true;
      // Stop taking requests first, then let the workers finish the batch in hand, then close stores.
      await http.close(config.shutdownTimeoutMs);
      clearInterval(lag);
      await sweeper?.stop();
      await Promise.all(loops.map((l) => l.stop()));
      await projectionThread?.stop();
      watermarks?.close();
      vectorWatermarks?.close();
      keywordWatermarks?.close();
      await ports.close();
      telemetry.logger.info('engram stopped');
    },
  };
}

/**
 * The projection thread needs the embedded log (its consumers and appends are shared through the
 * data directory) and the embedded KV; and it only helps a process that also does other work.
 */
function usesProjectionThread(config: EngramConfig, roles: ReadonlySet<Role>): boolean {
  return config.projectionThread === 'on' && config.log === 'embedded' && config.kv === 'embedded' && roles.size > 1;
}

export interface ProjectionStageDeps {
  config: EngramConfig;
  log: EventLog;
  codecs: PipelineCodecs;
  topics: Topics;
  telemetry: Telemetry;
  kv: KvStore;
  cache: Cache;
  watermarks: AppliedWatermarks;
  stateAppended: Signal;
  /** They run on the projection thread, where no request waits behind a batch. @default false */
  ownThread?: boolean;
}

/**
 * ENGRAM_PROJECTION_BATCH_MAX with `auto` resolved: 2,000 records for the KV projection on the
 * projection thread, where a larger batch costs no request any latency and spreads each durable KV
 * write over more events (A/B in bench/results/pipeline.md, "Session 8"); 500 on a loop shared with
 * HTTP, and for the changelog emitter.
 */
export function projectionBatchMax(config: EngramConfig, projectorOnOwnThread: boolean): number {
  if (config.projectionBatchMax !== 'auto') return config.projectionBatchMax;
  return projectorOnOwnThread ? 2000 : 500;
}

/** The KV projection and the changelog emitter, on this thread (the main one, or the projection thread). */
export function startProjectionStage(deps: ProjectionStageDeps): ConsumerLoop[] {
  const { config, log, codecs, topics, telemetry, kv } = deps;
  const groups = createConsumerGroups(config.topicPrefix);
  const common = { log, codecs, topics, deadLetters: createDeadLetterSink({ log, codecs, topics, telemetry }), telemetry };
  // Only the emitter advances these (nobody waits on them here); they close when it stops.
  const changelogWatermarks = createAppliedWatermarks({ kv, partitions: topics.partitions, keyFor: changelogWatermarkKey });
  const maxBatch = projectionBatchMax(config, deps.ownThread ?? false);
  // The emitter keeps batches of 500 even on the projection thread: 2,000 there let a backlog
  // (after a burst) hold the thread for long stretches, and the projection's announcements with it
  // (freshness A/B in bench/results/pipeline.md, "Session 8").
  const emitter = startChangelogEmitter({ ...common, group: groups.changelog, kv, kvWatermarks: deps.watermarks, changelogWatermarks, stateAppended: deps.stateAppended, maxBatch: projectionBatchMax(config, false) });
  void emitter.done.finally(() => changelogWatermarks.close()).catch(() => undefined);
  return [startProjectionWorker({ ...common, group: groups.projection, kv, cache: deps.cache, watermarks: deps.watermarks, maxBatch, kvKeywordIndex: keywordIndexIn(config) === 'kv' }), emitter];
}

/** ENGRAM_KEYWORD_INDEX with `auto` resolved: in memory beside the embedded KV, in the KV store otherwise. */
function keywordIndexIn(config: EngramConfig): 'memory' | 'kv' {
  if (config.keywordIndex !== 'auto') return config.keywordIndex as 'memory' | 'kv';
  return config.kv === 'embedded' ? 'memory' : 'kv';
}

/** Consumer lag per group and partition (end offset minus committed offset), refreshed every 5 s. */
function startLagGauge(log: EventLog, topics: Topics, telemetry: Telemetry, groups: Array<{ group: string; topic: string }>): NodeJS.Timeout {
  const timer = setInterval(async () => {
    for (const { group, topic } of groups) {
      try {
        const [end, committed] = await Promise.all([log.endOffsets(topic), log.committedOffsets(group, topic)]);
        end.forEach((e, p) => telemetry.metrics.consumerLag.set({ group, partition: String(p) }, Math.max(0, e - (committed[p] ?? 0))));
      } catch {
        // the log is closing or down: readiness reports it
      }
    }
  }, 5000);
  timer.unref();
  return timer;
}
