/**
 * The HTTP server: routing, authentication, JSON bodies with a size limit, problem+json errors,
 * latency metrics, and graceful close (stop accepting, let in-flight requests finish).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EngramError, ValidationError } from '@engram/core';
import type { Telemetry } from '../telemetry.js';
import type { Authenticator, Principal } from './auth.js';
import { toProblem } from './problem.js';
import { createRouter, type RequestContext, type Route } from './router.js';

export interface HttpServerOptions {
  routes: Route[];
  auth: Authenticator;
  telemetry: Telemetry;
  maxBodyBytes: number;
}

export interface HttpServer {
  server: Server;
  listen(port: number, host: string): Promise<AddressInfo>;
  close(timeoutMs: number): Promise<void>;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, contentType = 'application/json'): void {
  sendPayload(res, status, body === undefined ? '' : JSON.stringify(body), headers, contentType);
}

/** Sends `payload`, a body already serialized. */
function sendPayload(res: ServerResponse, status: number, payload: string, headers: Record<string, string> | undefined, contentType: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(payload), ...headers });
  res.end(payload);
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      reject(new EngramError('body_too_large', `the body is ${declared} bytes, the limit is ${maxBytes}`, { details: { limit: 'body size', actual: declared, max: maxBytes } }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(new EngramError('body_too_large', `the body exceeds the limit of ${maxBytes} bytes`, { details: { limit: 'body size', max: maxBytes } }));
        req.pause();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json' && !type.endsWith('+json')) {
    throw new EngramError('unsupported_media_type', 'send the body as application/json');
  }
  const body = await readBody(req, maxBytes);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new ValidationError('invalid_json', `the body is not valid JSON: ${(error as Error).message}`);
  }
}

/** What a handler gets; a class, so a request allocates no closures for it. */
class Context implements RequestContext {
  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly params: Record<string, string>,
    private readonly url: URL,
    readonly principal: Principal,
    private readonly maxBodyBytes: number,
  ) {}

  get query(): URLSearchParams {
    return this.url.searchParams;
  }

  json(): Promise<unknown> {
    return readJson(this.req, this.maxBodyBytes);
  }
}

export function createHttpServer(options: HttpServerOptions): HttpServer {
  const router = createRouter(options.routes);
  const { metrics, logger } = options.telemetry;
  const anonymous: Principal = { tenant: '', scopes: [] };
  // Latency histogram children by route and status, bound once (resolving labels per request costs more).
  const latency = new Map<string, { observe(seconds: number): void }>();
  const observeLatency = (route: string, status: number, seconds: number): void => {
    const key = `${status} ${route}`;
    let child = latency.get(key);
    if (!child) latency.set(key, (child = metrics.httpLatency.labels({ route, status: String(status) })));
    child.observe(seconds);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    let routeLabel = 'unmatched';
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const { route, params } = router.match(req.method ?? 'GET', url.pathname);
      routeLabel = route.label;
      const principal = route.auth === false ? anonymous : options.auth.authenticate(req.headers.authorization);
      const reply = await route.handler(new Context(req, res, params, url, principal, options.maxBodyBytes));
      if (reply) {
        if (reply.json !== undefined) sendPayload(res, reply.status, reply.json, reply.headers, 'application/json');
        else sendJson(res, reply.status, reply.body, reply.headers);
      }
    } catch (error) {
      const problem = toProblem(error);
      if (problem.status >= 500 && problem.status !== 503 && problem.status !== 504) logger.error({ err: error, url: req.url }, 'request failed');
      if (res.headersSent) {
        res.destroy();
      } else {
        const headers: Record<string, string> = problem.status === 503 ? { 'retry-after': '1' } : {};
        if (problem.code === 'unauthorized') headers['www-authenticate'] = 'Bearer';
        // A body left unread (rejected early) must not be parsed as the next request.
        if (!req.complete) headers.connection = 'close';
        sendJson(res, problem.status, problem, headers, 'application/problem+json');
      }
    } finally {
      observeLatency(routeLabel, res.statusCode, (performance.now() - started) / 1000);
    }
  }

  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => void handle(req, res));
  return {
    server,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve(server.address() as AddressInfo));
      });
    },
    close(timeoutMs) {
      return new Promise((resolve) => {
        const force = setTimeout(() => {
          server.closeAllConnections();
          resolve();
        }, timeoutMs);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}
