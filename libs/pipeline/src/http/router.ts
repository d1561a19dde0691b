/**
 * A small router on node:http: routes are `METHOD /literal/:param` patterns matched segment by
 * segment. Path segments are URL-decoded one by one, so a namespace like `agents/planner` travels as
 * the single segment `agents%2Fplanner` (DESIGN.md section 6).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EngramError, ValidationError } from '@engram/core';
import type { Principal } from './auth.js';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  /** Set on authenticated routes. */
  principal: Principal;
  /** Reads and parses the JSON body, enforcing the body-size limit. */
  json(): Promise<unknown>;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A handler returns a reply, or undefined when it wrote the response itself (SSE, metrics). */
export type Handler = (ctx: RequestContext) => Promise<Reply | undefined>;

export interface Route {
  method: string;
  pattern: string;
  /** @default true */
  auth?: boolean;
  handler: Handler;
}

interface CompiledRoute extends Route {
  segments: string[];
}

export interface Router {
  match(method: string, pathname: string): { route: CompiledRoute; params: Record<string, string> };
}

function splitPath(pathname: string): string[] {
  const parts = pathname.split('/').filter((s, i) => i > 0 || s !== '');
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  try {
    return parts.map((p) => decodeURIComponent(p));
  } catch {
    throw new ValidationError('invalid_path', 'the path is not valid URL encoding');
  }
}

export function createRouter(routes: Route[]): Router {
  const compiled: CompiledRoute[] = routes.map((r) => ({ ...r, segments: splitPath(r.pattern) }));
  return {
    match(method, pathname) {
      const segments = splitPath(pathname);
      let pathMatched = false;
      for (const route of compiled) {
        if (route.segments.length !== segments.length) continue;
        const params: Record<string, string> = {};
        const ok = route.segments.every((s, i) => {
          if (s.startsWith(':')) {
            params[s.slice(1)] = segments[i]!;
            return segments[i] !== '';
          }
          return s === segments[i];
        });
        if (!ok) continue;
        pathMatched = true;
        if (route.method === method) return { route, params };
      }
      if (pathMatched) throw new EngramError('method_not_allowed', `${method} is not allowed on ${pathname}`);
      throw new EngramError('route_not_found', `no route for ${pathname}`);
    },
  };
}
