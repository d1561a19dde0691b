/**
 * Logs (pino) and Prometheus metrics (prom-client), created once per process and passed down.
 * Metric names follow DESIGN.md section 8: ingest rate, consumer lag, projection freshness, cache hit
 * ratio per tier, search latency, DLQ count.
 */
import { pino, type Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  eventsIngested: Counter<'status'>;
  eventsApplied: Counter<'outcome'>;
  projectionFreshness: Histogram<string>;
  consumerLag: Gauge<'group' | 'partition'>;
  cacheLookups: Counter<'tier' | 'result'>;
  searchLatency: Histogram<'mode'>;
  httpLatency: Histogram<'route' | 'status'>;
  deadLetters: Counter<'topic' | 'code'>;
  embeddings: Counter<'result'>;
  vectorsSkipped: Counter<'reason'>;
}

export interface Telemetry {
  logger: Logger;
  metrics: Metrics;
}

export function createTelemetry(options: { level?: string; name?: string; defaultMetrics?: boolean } = {}): Telemetry {
  const logger = pino({ name: options.name ?? 'engram', level: options.level ?? 'info' });
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const metrics: Metrics = {
    registry,
    eventsIngested: new Counter({ name: 'engram_events_ingested_total', help: 'Events received by ingest, by status (accepted | duplicate)', labelNames: ['status'], registers }),
    eventsApplied: new Counter({ name: 'engram_events_applied_total', help: 'Events folded by the projection, by outcome (applied | rejected)', labelNames: ['outcome'], registers }),
    projectionFreshness: new Histogram({ name: 'engram_projection_freshness_seconds', help: 'Event time (HLC wall clock) to applied in KV', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers }),
    consumerLag: new Gauge({ name: 'engram_consumer_lag_records', help: 'Records between the end of a partition and the group position', labelNames: ['group', 'partition'], registers }),
    cacheLookups: new Counter({ name: 'engram_cache_lookups_total', help: 'Cache lookups by tier (l1 | kv) and result (hit | miss)', labelNames: ['tier', 'result'], registers }),
    searchLatency: new Histogram({ name: 'engram_search_seconds', help: 'Search latency by mode', labelNames: ['mode'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers }),
    httpLatency: new Histogram({ name: 'engram_http_request_seconds', help: 'HTTP request latency', labelNames: ['route', 'status'], buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers }),
    deadLetters: new Counter({ name: 'engram_dead_letters_total', help: 'Records sent to the dead-letter topic', labelNames: ['topic', 'code'], registers }),
    embeddings: new Counter({ name: 'engram_embeddings_total', help: 'Texts embedded by the enrichment worker, by result', labelNames: ['result'], registers }),
    vectorsSkipped: new Counter({ name: 'engram_vectors_skipped_total', help: 'Stored vectors the vector indexer left out, by reason (model_mismatch)', labelNames: ['reason'], registers }),
  };
  return { logger, metrics };
}
