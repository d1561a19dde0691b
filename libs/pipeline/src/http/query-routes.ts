/** Read routes (DESIGN.md section 6): get, list, history, search, subscribe (SSE). */
import { ValidationError } from '@engram/core';
import type { VectorFilter } from '@engram/ports';
import { parseInstant, type QueryService } from '../query/query-service.js';
import type { SearchMode, SearchService } from '../query/search-service.js';
import type { SubscriptionService } from '../query/subscriptions.js';
import type { Route } from './router.js';

const optional = (q: URLSearchParams, name: string): string | undefined => q.get(name) ?? undefined;

function optionalInt(q: URLSearchParams, name: string): number | undefined {
  const raw = q.get(name);
  if (raw === null) return undefined;
  if (!/^\d{1,9}$/.test(raw)) throw new ValidationError('invalid_limit', `${name} must be a positive integer`, { field: name });
  return Number(raw);
}

export function queryRoutes(deps: { query: QueryService; search: SearchService; subscriptions: SubscriptionService; maxTextLength: number }): Route[] {
  const { query } = deps;
  return [
    {
      method: 'GET',
      pattern: '/v1/memories/:namespace/:key',
      handler: async (ctx) => {
        // The hot read: the answer is rendered once per stored state (query-service.ts), not per request.
        const { json, etag } = await query.getRendered(ctx.principal.tenant, ctx.params.namespace!, ctx.params.key!, {
          consistentWith: optional(ctx.query, 'consistentWith'),
          asOf: optional(ctx.query, 'asOf'),
        });
        return { status: 200, json, headers: { etag } };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/memories/:namespace',
      handler: async (ctx) => ({
        status: 200,
        body: await query.list(ctx.principal.tenant, ctx.params.namespace!, {
          prefix: optional(ctx.query, 'prefix'),
          limit: optionalInt(ctx.query, 'limit'),
          cursor: optional(ctx.query, 'cursor'),
          consistentWith: optional(ctx.query, 'consistentWith'),
        }),
      }),
    },
    {
      method: 'GET',
      pattern: '/v1/memories/:namespace/:key/history',
      handler: async (ctx) => ({
        status: 200,
        body: await query.history(ctx.principal.tenant, ctx.params.namespace!, ctx.params.key!, {
          limit: optionalInt(ctx.query, 'limit'),
          cursor: optional(ctx.query, 'cursor'),
          consistentWith: optional(ctx.query, 'consistentWith'),
        }),
      }),
    },
    {
      method: 'POST',
      pattern: '/v1/search',
      handler: async (ctx) => {
        const request = parseSearch(await ctx.json(), ctx.principal.tenant, deps.maxTextLength);
        return { status: 200, body: await deps.search.search(request) };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/subscribe',
      handler: async (ctx) => {
        const abort = new AbortController();
        const from = optional(ctx.query, 'from') ?? (ctx.req.headers['last-event-id'] as string | undefined);
        // The response, not the request, closes when the client goes away.
        ctx.res.on('close', () => abort.abort());
        // Awaited before the headers: the stream's start is fixed before the client sees it open.
        const feed = await deps.subscriptions.subscribe(ctx.principal.tenant, { namespacePrefix: optional(ctx.query, 'namespacePrefix'), from, abort: abort.signal });
        ctx.res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        ctx.res.write(': subscribed\n\n');
        const heartbeat = setInterval(() => ctx.res.write(': keep-alive\n\n'), 15_000);
        try {
          for await (const change of feed) {
            ctx.res.write(`id: ${change.token}\nevent: ${change.deleted ? 'deleted' : 'changed'}\ndata: ${JSON.stringify(change.memory)}\n\n`);
          }
        } finally {
          clearInterval(heartbeat);
          ctx.res.end();
        }
        return undefined;
      },
    },
  ];
}

const SEARCH_FIELDS = new Set(['query', 'vector', 'modality', 'k', 'mode', 'namespacePrefix', 'filter', 'consistentWith']);
const FILTER_FIELDS = new Set(['agentId', 'sessionId', 'tags', 'kind', 'since', 'until']);

function parseSearch(body: unknown, tenant: string, maxTextLength: number) {
  const bad = (field: string, message: string) => new ValidationError('invalid_field', message, { field });
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError('invalid_body', 'the body must be a JSON object', { field: 'body' });
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!SEARCH_FIELDS.has(k)) throw bad(k, `unknown field ${k}`);
  const str = (v: unknown, field: string): string | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v === '') throw bad(field, `${field} must be a non-empty string`);
    return v;
  };
  const queryText = str(b.query, 'query');
  if (queryText !== undefined && queryText.length > maxTextLength) throw bad('query', `query is longer than ${maxTextLength} characters`);
  let vector: number[] | undefined;
  if (b.vector !== undefined) {
    if (!Array.isArray(b.vector) || b.vector.length === 0 || !b.vector.every((x) => typeof x === 'number' && Number.isFinite(x))) throw bad('vector', 'vector must be a non-empty array of finite numbers');
    vector = b.vector as number[];
  }
  if (queryText === undefined && vector === undefined) throw new ValidationError('missing_field', 'give query or vector', { field: 'query' });
  const k = b.k === undefined ? 10 : b.k;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > 100) throw bad('k', 'k must be an integer in [1, 100]');
  const mode = (b.mode ?? (queryText !== undefined ? 'hybrid' : 'vector')) as SearchMode;
  if (!['vector', 'keyword', 'hybrid'].includes(mode)) throw bad('mode', 'mode must be vector, keyword or hybrid');
  if (mode !== 'vector' && queryText === undefined) throw new ValidationError('missing_field', `mode ${mode} needs query`, { field: 'query' });
  if (mode === 'vector' && vector !== undefined && queryText !== undefined) throw bad('vector', 'give query or vector, not both');

  const filter: VectorFilter = { tenant };
  const ns = str(b.namespacePrefix, 'namespacePrefix');
  if (ns !== undefined) filter.namespacePrefix = ns;
  if (b.filter !== undefined) {
    if (typeof b.filter !== 'object' || b.filter === null || Array.isArray(b.filter)) throw bad('filter', 'filter must be an object');
    const f = b.filter as Record<string, unknown>;
    for (const k2 of Object.keys(f)) if (!FILTER_FIELDS.has(k2)) throw bad(`filter.${k2}`, `unknown filter ${k2}`);
    const agentId = str(f.agentId, 'filter.agentId');
    const sessionId = str(f.sessionId, 'filter.sessionId');
    const kind = str(f.kind, 'filter.kind');
    if (agentId !== undefined) filter.agentId = agentId;
    if (sessionId !== undefined) filter.sessionId = sessionId;
    if (kind !== undefined) {
      if (!['document', 'counter', 'set'].includes(kind)) throw bad('filter.kind', 'kind must be document, counter or set');
      filter.kind = kind;
    }
    if (f.tags !== undefined) {
      if (!Array.isArray(f.tags) || !f.tags.every((t) => typeof t === 'string')) throw bad('filter.tags', 'tags must be an array of strings');
      filter.tags = f.tags as string[];
    }
    for (const edge of ['since', 'until'] as const) {
      const v = f[edge];
      if (v === undefined) continue;
      if (typeof v !== 'string' && typeof v !== 'number') throw bad(`filter.${edge}`, `${edge} must be an ISO-8601 time or epoch ms`);
      filter[edge] = parseInstant(String(v), `filter.${edge}`);
    }
  }
  const modality = str(b.modality, 'modality');
  const consistentWith = str(b.consistentWith, 'consistentWith');
  return { query: queryText, vector, modality, k, mode, filter, consistentWith };
}
