/**
 * Write routes (DESIGN.md section 6): POST /v1/events and the PUT / PATCH / DELETE shortcuts, which
 * append MemoryWritten / MemoryPatched / MemoryDeleted with `If-Match` as expectedVersion.
 * `?wait=applied` waits for the projection and reports each event's outcome.
 */
import type { IncomingMessage } from 'node:http';
import { EngramError, ValidationError, withFields } from '@engram/core';
import type { IngestReceipt, IngestService } from '../ingest/ingest-service.js';
import type { QueryService } from '../query/query-service.js';
import type { Reply, Route } from './router.js';

export function ingestRoutes(deps: { ingest: IngestService; query: QueryService }): Route[] {
  const { ingest, query } = deps;

  async function withOutcomes(receipt: IngestReceipt, wait: string | null): Promise<{ status: number; results: Array<Record<string, unknown>> }> {
    if (wait === null) return { status: 202, results: receipt.results.map((r) => ({ ...r })) };
    if (wait !== 'applied') throw new ValidationError('invalid_field', 'wait must be "applied"', { field: 'wait' });
    await query.waitFor(receipt.token);
    const outcomes = await query.outcomes(await ingest.outcomeLocations(receipt));
    const results = receipt.results.map((r, i) => {
      const o = outcomes[i];
      const outcome = o ? (o.status === 'applied' ? { status: 'applied', version: o.version } : { status: 'rejected', code: o.code, reason: o.reason }) : { status: 'pending' };
      return withFields({ ...r }, { outcome });
    });
    return { status: 200, results };
  }

  const shortcut = (type: 'MemoryWritten' | 'MemoryPatched' | 'MemoryDeleted'): Route['handler'] => async (ctx) => {
    const input: Record<string, unknown> = { type, namespace: ctx.params.namespace, key: ctx.params.key };
    if (type !== 'MemoryDeleted') {
      const body = await ctx.json();
      if (type === 'MemoryPatched' && isMergePatch(ctx.req)) {
        input.patch = body;
      } else {
        if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError('invalid_body', 'the body must be a JSON object', { field: 'body' });
        for (const field of ['type', 'namespace', 'key']) {
          if (field in body) throw new ValidationError('invalid_field', `${field} comes from the path, not the body`, { field });
        }
        Object.assign(input, body);
      }
    }
    const expected = parseIfMatch(ctx.req.headers['if-match']);
    if (expected !== undefined) input.expectedVersion = expected;
    const receipt = await ingest.submitOne(ctx.principal.tenant, input, { trace: traceOf(ctx.req) });
    const { status, results } = await withOutcomes(receipt, ctx.query.get('wait'));
    const result = results[0]!;
    const outcome = result.outcome as { status: string; code?: string; reason?: string; version?: number } | undefined;
    if (outcome?.status === 'rejected') {
      throw new EngramError(outcome.code ?? 'rejected', outcome.reason ?? 'the event was rejected', { details: { eventId: result.eventId, token: receipt.token } });
    }
    const headers: Record<string, string> = outcome?.version !== undefined ? { etag: `"${outcome.version}"` } : {};
    return { status, body: { ...result, token: receipt.token }, headers } satisfies Reply;
  };

  return [
    {
      method: 'POST',
      pattern: '/v1/events',
      handler: async (ctx) => {
        const body = await ctx.json();
        if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError('invalid_body', 'the body must be {"events": [ … ]}', { field: 'body' });
        const extra = Object.keys(body).filter((k) => k !== 'events');
        if (extra.length > 0) throw new ValidationError('invalid_field', `unknown field ${extra[0]}`, { field: extra[0] });
        const receipt = await ingest.submit(ctx.principal.tenant, (body as { events?: unknown }).events, { trace: traceOf(ctx.req) });
        const { status, results } = await withOutcomes(receipt, ctx.query.get('wait'));
        return { status, body: { results, token: receipt.token } };
      },
    },
    { method: 'PUT', pattern: '/v1/memories/:namespace/:key', handler: shortcut('MemoryWritten') },
    { method: 'PATCH', pattern: '/v1/memories/:namespace/:key', handler: shortcut('MemoryPatched') },
    { method: 'DELETE', pattern: '/v1/memories/:namespace/:key', handler: shortcut('MemoryDeleted') },
  ];
}

function isMergePatch(req: IncomingMessage): boolean {
  return (req.headers['content-type'] ?? '').toLowerCase().startsWith('application/merge-patch+json');
}

/** `If-Match: "3"` (the ETag we hand out), also `3` and `W/"3"`. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  // Quotes come in pairs: `"3` or `3"` is a malformed header, not version 3.
  const m = /^(?:W\/"(\d{1,15})"|"(\d{1,15})"|(\d{1,15}))$/.exec(header.trim());
  if (!m) throw new ValidationError('invalid_if_match', 'If-Match must be an entity version such as "3"', { field: 'If-Match' });
  return Number(m[1] ?? m[2] ?? m[3]);
}

function traceOf(req: IncomingMessage): { traceparent?: string; tracestate?: string } | undefined {
  const traceparent = req.headers.traceparent;
  if (typeof traceparent !== 'string' || !/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/.test(traceparent)) return undefined;
  const tracestate = req.headers.tracestate;
  return typeof tracestate === 'string' ? { traceparent, tracestate } : { traceparent };
}
