/** The OpenAPI 3.1 description served at /docs. Kept beside the routes it describes. */
const problem = { $ref: '#/components/responses/Problem' };
const ns = { name: 'namespace', in: 'path', required: true, description: 'Namespace path, URL-encoded as one segment (agents%2Fplanner)', schema: { type: 'string' } };
const key = { name: 'key', in: 'path', required: true, schema: { type: 'string' } };
const consistentWith = { name: 'consistentWith', in: 'query', description: 'Token from a write: wait until it is applied', schema: { type: 'string' } };
const wait = { name: 'wait', in: 'query', description: '`applied`: wait for the projection and report outcomes', schema: { enum: ['applied'] } };
const ifMatch = { name: 'If-Match', in: 'header', description: 'Expected version (the ETag of a read)', schema: { type: 'string' } };
const errors = { '400': problem, '401': problem, '413': problem, '503': problem, '504': problem };

export const openApiDocument = {
  openapi: '3.1.0',
  info: { title: 'Engram', version: '1', description: 'Event-sourced shared memory for AI agents. Errors are application/problem+json with a stable `code`.' },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API key; it maps to a tenant' } },
    responses: {
      Problem: { description: 'RFC 9457 problem', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } },
    },
    schemas: {
      Problem: { type: 'object', required: ['type', 'title', 'status', 'code', 'detail'], properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, code: { type: 'string' }, detail: { type: 'string' }, details: { type: 'object' } } },
      EventInput: {
        type: 'object',
        required: ['type', 'namespace', 'key'],
        properties: {
          eventId: { type: 'string', description: 'Idempotency key; generated when absent' },
          type: { enum: ['MemoryWritten', 'MemoryPatched', 'MemoryDeleted', 'CounterIncremented', 'SetElementsAdded', 'SetElementsRemoved'] },
          namespace: { type: 'string' },
          key: { type: 'string' },
          actor: { type: 'string' },
          value: { description: 'MemoryWritten: the full value' },
          patch: { description: 'MemoryPatched: RFC 7386 merge patch' },
          delta: { type: 'integer', description: 'CounterIncremented' },
          elements: { type: 'array', items: { type: 'string' }, description: 'SetElementsAdded / SetElementsRemoved' },
          expectedVersion: { type: 'integer' },
          text: { type: 'string', description: 'Embedded and keyword-indexed' },
          vectors: { type: 'object', additionalProperties: { type: 'array', items: { type: 'number' } } },
          expiresAt: { oneOf: [{ type: 'integer' }, { type: 'string', format: 'date-time' }] },
          metadata: { type: 'object', properties: { agentId: { type: 'string' }, sessionId: { type: 'string' }, runId: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } }, attributes: { type: 'object' } } },
        },
      },
      IngestResult: { type: 'object', properties: { eventId: { type: 'string' }, status: { enum: ['accepted', 'duplicate'] }, partition: { type: 'integer' }, offset: { type: 'integer' }, outcome: { type: 'object' } } },
      Memory: { type: 'object', properties: { namespace: { type: 'string' }, key: { type: 'string' }, kind: { enum: ['document', 'counter', 'set'] }, value: {}, text: { type: 'string' }, metadata: { type: 'object' }, version: { type: 'integer' }, createdAt: { type: 'string' }, updatedAt: { type: 'string' }, expiresAt: { type: 'string' } } },
    },
  },
  security: [{ bearer: [] }],
  paths: {
    '/v1/events': {
      post: {
        summary: 'Append a batch of events (one bad event rejects the whole batch)',
        parameters: [wait],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['events'], properties: { events: { type: 'array', items: { $ref: '#/components/schemas/EventInput' } } } } } } },
        responses: { '202': { description: 'Accepted: durable in the log', content: { 'application/json': { schema: { type: 'object', properties: { results: { type: 'array', items: { $ref: '#/components/schemas/IngestResult' } }, token: { type: 'string' } } } } } }, '200': { description: 'With wait=applied: outcomes' }, ...errors },
      },
    },
    '/v1/memories/{namespace}/{key}': {
      get: { summary: 'Current state (ETag = version)', parameters: [ns, key, consistentWith, { name: 'asOf', in: 'query', schema: { type: 'string' } }], responses: { '200': { description: 'The memory', content: { 'application/json': { schema: { $ref: '#/components/schemas/Memory' } } } }, '404': problem, ...errors } },
      put: { summary: 'Write the full value (MemoryWritten)', parameters: [ns, key, ifMatch, wait], responses: { '202': { description: 'Accepted' }, '200': { description: 'Applied' }, '412': problem, ...errors } },
      patch: { summary: 'Merge-patch the value (MemoryPatched); body {patch,…} or application/merge-patch+json', parameters: [ns, key, ifMatch, wait], responses: { '202': { description: 'Accepted' }, '200': { description: 'Applied' }, '412': problem, ...errors } },
      delete: { summary: 'Delete (MemoryDeleted)', parameters: [ns, key, ifMatch, wait], responses: { '202': { description: 'Accepted' }, '200': { description: 'Applied' }, '412': problem, ...errors } },
    },
    '/v1/memories/{namespace}': {
      get: { summary: 'List a namespace in key order', parameters: [ns, { name: 'prefix', in: 'query', schema: { type: 'string' } }, { name: 'limit', in: 'query', schema: { type: 'integer' } }, { name: 'cursor', in: 'query', schema: { type: 'string' } }, consistentWith], responses: { '200': { description: '{items, cursor?}' }, ...errors } },
    },
    '/v1/memories/{namespace}/{key}/history': {
      get: { summary: 'The entity events with outcomes, in log order', parameters: [ns, key, { name: 'limit', in: 'query', schema: { type: 'integer' } }, { name: 'cursor', in: 'query', schema: { type: 'string' } }, consistentWith], responses: { '200': { description: '{entries, cursor?}' }, '404': problem, ...errors } },
    },
    '/v1/search': {
      post: { summary: 'Vector, keyword (BM25) or hybrid (RRF) search', requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: { query: { type: 'string' }, vector: { type: 'array', items: { type: 'number' } }, modality: { type: 'string' }, k: { type: 'integer' }, mode: { enum: ['vector', 'keyword', 'hybrid'] }, namespacePrefix: { type: 'string' }, filter: { type: 'object' }, consistentWith: { type: 'string' } } } } } }, responses: { '200': { description: '{mode, degraded, results}' }, '409': problem, ...errors } },
    },
    '/v1/subscribe': {
      get: { summary: 'Server-sent events of state changes; resume with from= or Last-Event-ID', parameters: [{ name: 'namespacePrefix', in: 'query', schema: { type: 'string' } }, { name: 'from', in: 'query', schema: { type: 'string' } }], responses: { '200': { description: 'text/event-stream' }, ...errors } },
    },
    '/healthz': { get: { security: [], summary: 'Liveness', responses: { '200': { description: 'ok' } } } },
    '/readyz': { get: { security: [], summary: 'Readiness per dependency', responses: { '200': { description: 'ready' }, '503': { description: 'not ready' } } } },
    '/metrics': { get: { security: [], summary: 'Prometheus metrics', responses: { '200': { description: 'text/plain' } } } },
    '/docs': { get: { security: [], summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } } },
  },
} as const;
