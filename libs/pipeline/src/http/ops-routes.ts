/** Operations routes: liveness, readiness per dependency, Prometheus metrics, OpenAPI. No auth. */
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';
import { openApiDocument } from './openapi.js';
import type { Route } from './router.js';

/** A named readiness probe: resolves when the dependency answers, rejects otherwise. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

/** Another thread's metrics (prom-client's JSON form), summed into this process's at each scrape. */
export type MetricsSource = () => Promise<MetricObjectWithValues<MetricValue<string>>[]>;

export function opsRoutes(deps: { registry: Registry; checks: ReadinessCheck[]; isReady: () => boolean; otherThreads?: MetricsSource[] }): Route[] {
  return [
    { method: 'GET', pattern: '/healthz', auth: false, handler: async () => ({ status: 200, body: { status: 'ok' } }) },
    {
      method: 'GET',
      pattern: '/readyz',
      auth: false,
      handler: async () => {
        const results = await Promise.all(
          deps.checks.map(async (c) => {
            try {
              await withTimeout(c.check(), 2000);
              return [c.name, { status: 'up' }] as const;
            } catch (error) {
              return [c.name, { status: 'down', detail: (error as Error).message }] as const;
            }
          }),
        );
        const ready = deps.isReady() && results.every(([, r]) => r.status === 'up');
        return { status: ready ? 200 : 503, body: { status: ready ? 'ready' : 'not_ready', checks: Object.fromEntries(results) } };
      },
    },
    {
      method: 'GET',
      pattern: '/metrics',
      auth: false,
      handler: async (ctx) => {
        const others = deps.otherThreads ?? [];
        const text =
          others.length === 0
            ? await deps.registry.metrics()
            : await AggregatorRegistry.aggregate([await deps.registry.getMetricsAsJSON(), ...(await Promise.all(others.map((source) => source())))]).metrics();
        ctx.res.writeHead(200, { 'content-type': deps.registry.contentType });
        ctx.res.end(text);
        return undefined;
      },
    },
    { method: 'GET', pattern: '/docs', auth: false, handler: async () => ({ status: 200, body: openApiDocument }) },
  ];
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e) => (clearTimeout(t), reject(e)),
    );
  });
}
