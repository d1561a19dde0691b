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
  createHttpServer,
  createIngestService,
  createQueryService,
  createSearchService,
  createSignal,
  createSubscriptionService,
  createTelemetry,
  createTopics,
  createVectorCollections,
  ensureCollections,
  ingestRoutes,
  opsRoutes,
  queryRoutes,
  startEnrichmentWorker,
  startProjectionWorker,
  topicSpecs,
  watermarkKey,
  type ConsumerLoop,
  type HttpServer,
  type Route,
  type Telemetry,
} from '@engram/pipeline';
import { createPipelineCodecs } from './codecs.js';
import { openPorts } from './ports.js';

export const ROLES = ['ingest', 'query', 'enrichment', 'projection'] as const;
export type Role = (typeof ROLES)[number];

export interface EngramOptions {
  roles: readonly Role[];
  /** Shows the generated admin key once. @default console.log */
  announce?: (message: string) => void;
  telemetry?: Telemetry;
}

export interface RunningEngram {
  /** Set when this process serves HTTP. */
  address?: AddressInfo;
  telemetry: Telemetry;
  /** Rejects if a worker loop crashes. */
  crashed: Promise<never>;
  stop(): Promise<void>;
}

export async function startEngram(config: EngramConfig, options: EngramOptions): Promise<RunningEngram> {
  const telemetry = options.telemetry ?? createTelemetry({ level: config.logLevel });
  const roles = new Set(options.roles);
  const ports = await openPorts(config);
  telemetry.logger.info({ roles: [...roles], adapters: ports.adapters, dataDir: config.dataDir }, 'engram starting');

  const topics = createTopics({ prefix: config.topicPrefix, partitions: config.partitions });
  for (const spec of topicSpecs(topics)) await ports.log.ensureTopic(spec);
  const codecs = await createPipelineCodecs(ports.registry, topics);
  const collections = createVectorCollections({ textModel: ports.embedder.model, clientModalities: config.vectorDims });
  await ensureCollections(ports.vectors, collections);
  const watermarks = createAppliedWatermarks({ kv: ports.kv, partitions: topics.partitions });
  const deadLetters = createDeadLetterSink({ log: ports.log, codecs, topics, telemetry });
  const stateAppended = createSignal();
  const common = { log: ports.log, codecs, topics, deadLetters, telemetry };

  const loops: ConsumerLoop[] = [];
  if (roles.has('enrichment')) loops.push(startEnrichmentWorker({ ...common, embedder: ports.embedder }));
  if (roles.has('projection')) {
    loops.push(startProjectionWorker({ ...common, kv: ports.kv, vectors: ports.vectors, cache: ports.cache, collections, watermarks, stateAppended }));
  }

  let http: HttpServer | undefined;
  let address: AddressInfo | undefined;
  let stopping = false;
  if (roles.has('ingest') || roles.has('query')) {
    const query = createQueryService({ kv: ports.kv, cache: ports.cache, watermarks, limits: config.limits, consistencyTimeoutMs: config.consistencyTimeoutMs, telemetry });
    const routes: Route[] = [];
    if (roles.has('ingest')) {
      const ingest = createIngestService({ log: ports.log, codecs, topics, limits: config.limits, clock: createHybridClock(), telemetry });
      routes.push(...ingestRoutes({ ingest, query }));
    }
    if (roles.has('query')) {
      const search = createSearchService({ kv: ports.kv, vectors: ports.vectors, embedder: ports.embedder, collections, query, telemetry });
      const subscriptions = createSubscriptionService({ log: ports.log, codecs, topics, stateAppended });
      routes.push(...queryRoutes({ query, search, subscriptions, maxTextLength: config.limits.maxTextLength }));
    }
    routes.push(
      ...opsRoutes({
        registry: telemetry.metrics.registry,
        isReady: () => !stopping,
        checks: [
          { name: 'log', check: async () => void (await ports.log.endOffsets(topics.events)) },
          { name: 'kv', check: async () => void (await ports.kv.get(watermarkKey(0))) },
          { name: 'vectors', check: async () => void (await ports.vectors.count(collections.nameFor('text')!)) },
        ],
      }),
    );
    const auth = createApiKeyAuth({ keys: config.apiKeys, dataDir: config.dataDir, announce: options.announce ?? ((m) => console.log(m)) });
    http = createHttpServer({ routes, auth, telemetry, maxBodyBytes: config.limits.maxBodyBytes });
    address = await http.listen(config.port, config.host);
    telemetry.logger.info({ address: `http://${address.address}:${address.port}` }, 'engram listening');
  }

  const crashed = Promise.race(loops.map((l) => l.done.then(() => new Promise<never>(() => undefined)))) as Promise<never>;
  crashed.catch(() => undefined);

  return {
    address,
    telemetry,
    crashed,
    async stop() {
      if (stopping) return;
      stopping = true;
      // Stop taking requests first, then let the workers finish the batch in hand, then close stores.
      await http?.close(config.shutdownTimeoutMs);
      await Promise.all(loops.map((l) => l.stop()));
      watermarks.close();
      await ports.close();
      telemetry.logger.info('engram stopped');
    },
  };
}
