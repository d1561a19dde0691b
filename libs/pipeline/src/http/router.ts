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
  /** The body already serialized as JSON (sent as is, instead of `body`). */
  json?: string;
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
  /** `METHOD /pattern`, the metrics label. */
  label: string;
  segments: string[];
  /** Per segment: the parameter it binds, or undefined for a literal. */
  params: Array<string | undefined>;
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
  const compiled: CompiledRoute[] = routes.map((r) => {
    const segments = splitPath(r.pattern);
    return { ...r, label: `${r.method} ${r.pattern}`, segments, params: segments.map((s) => (s.startsWith(':') ? s.slice(1) : undefined)) };
  });
  /** Every request is matched: a plain loop, no closure or params object per route tried. */
  const matches = (route: CompiledRoute, segments: string[]): boolean => {
    if (route.segments.length !== segments.length) return false;
    for (let i = 0; i < segments.length; i++) {
      if (route.params[i] !== undefined ? segments[i] === '' : route.segments[i] !== segments[i]) return false;
    }
    return true;
  };
  return {
    match(method, pathname) {
      const segments = splitPath(pathname);
      let pathMatched = false;
      for (const route of compiled) {
        if (!matches(route, segments)) continue;
        pathMatched = true;
        if (route.method !== method) continue;
        const params: Record<string, string> = {};
        for (let i = 0; i < segments.length; i++) if (route.params[i] !== undefined) params[route.params[i]!] = segments[i]!;
        return { route, params };
      }
      if (pathMatched) throw new EngramError('method_not_allowed', `${method} is not allowed on ${pathname}`);
      throw new EngramError('route_not_found', `no route for ${pathname}`);
    },
  };
}
