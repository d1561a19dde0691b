/**
 * Reads by key, by namespace (ordered KV scan with a cursor), history and point-in-time (`asOf`).
 * Every read takes the tenant from the caller's credentials and every KV key it touches starts
 * with that tenant, so one tenant cannot address another's data. `consistentWith` makes a read wait
 * (bounded) until the projection has applied the token's positions.
 */
import {
  NotFoundError,
  ValidationError,
  applyEvent,
  encodeEntityId,
  hlcWallMs,
  namespaceScanPrefix,
  validateKey,
  validateNamespace,
  withFields,
  type EventOutcome,
  type Limits,
  type LogPosition,
  type MemoryEvent,
  type MemoryState,
} from '@engram/core';
import type { Cache, KvStore } from '@engram/ports';
import { decodeToken } from '../consistency-token.js';
import { historyPrefix, parseJson, stateKey, STATE_PREFIX } from '../kv-keys.js';
import type { AppliedWatermarks } from '../projection/applied-watermarks.js';
import type { Telemetry } from '../telemetry.js';
import { isVisible, toView, type MemoryView } from './memory-view.js';
import { stateMemoFor, type ParsedState, type RenderedMemory } from './state-memo.js';

export type { RenderedMemory } from './state-memo.js';

export interface HistoryEntry {
  event: Omit<MemoryEvent, 'vectors'>;
  outcome: EventOutcome;
  position: LogPosition;
  source: LogPosition;
}

export type StoredOutcome = EventOutcome & { entityId: string; position: LogPosition };

/** Where an event's outcome is recorded: its entity's history, at its position in `memory-events`. */
export interface OutcomeLocation {
  entityId: string;
  partition: number;
  offset: number;
}

export interface ReadOptions {
  consistentWith?: string;
}

export interface QueryService {
  waitFor(consistentWith: string | undefined): Promise<void>;
  /** The memory as clients see it. The object may be shared with other reads: do not modify it. */
  get(tenant: string, namespace: string, key: string, options?: ReadOptions & { asOf?: string }): Promise<MemoryView>;
  /** `get`, already rendered as the HTTP answer (what GET /v1/memories/{namespace}/{key} sends). */
  getRendered(tenant: string, namespace: string, key: string, options?: ReadOptions & { asOf?: string }): Promise<RenderedMemory>;
  list(tenant: string, namespace: string, options?: ReadOptions & { prefix?: string; limit?: number; cursor?: string }): Promise<{ items: MemoryView[]; cursor?: string }>;
  history(tenant: string, namespace: string, key: string, options?: ReadOptions & { limit?: number; cursor?: string }): Promise<{ entries: HistoryEntry[]; cursor?: string }>;
  /**
   * Outcomes of events, from their entities' history (undefined while not yet projected). The
   * caller vouches that each entity id is of its own tenant (the ingest receipt's events are).
   */
  outcomes(locations: OutcomeLocation[]): Promise<Array<StoredOutcome | undefined>>;
  /** States by entity id, for search hydration (missing ids are absent from the map). */
  states(ids: string[]): Promise<Map<string, MemoryState>>;
}

export interface QueryServiceDeps {
  kv: KvStore;
  cache: Cache;
  /**
   * With `follow: 'announced'` they move only after the projection (in this process) has written
   * the cache. Otherwise a watermark can be seen in KV before the cache holds the states it covers,
   * so a read that waited for a token reads KV.
   */
  watermarks: AppliedWatermarks;
  limits: Limits;
  consistencyTimeoutMs: number;
  telemetry: Telemetry;
}

export function createQueryService(deps: QueryServiceDeps): QueryService {
  const { kv, cache, limits, telemetry } = deps;
  const memo = stateMemoFor(kv);
  // Label children bound once: resolving labels on every lookup costs more than the lookup.
  const lookups = telemetry.metrics.cacheLookups;
  const l1Hit = lookups.labels({ tier: 'l1', result: 'hit' });
  const l1Miss = lookups.labels({ tier: 'l1', result: 'miss' });
  const kvHit = lookups.labels({ tier: 'kv', result: 'hit' });
  const kvMiss = lookups.labels({ tier: 'kv', result: 'miss' });

  async function waitFor(token: string | undefined): Promise<void> {
    if (token === undefined || token === '') return;
    await deps.watermarks.waitFor(decodeToken(token), deps.consistencyTimeoutMs);
  }

  /** The stored state, from the cache unless `fromKv` (then the cache gets what KV holds). */
  async function loadState(entityId: string, fromKv: boolean): Promise<ParsedState | undefined> {
    const hit = fromKv ? undefined : await cache.get(entityId);
    if (hit) {
      l1Hit.inc();
      return memo.parse(entityId, hit.value);
    }
    if (!fromKv) l1Miss.inc();
    const buf = await kv.get(stateKey(entityId));
    (buf ? kvHit : kvMiss).inc();
    if (!buf) return undefined;
    const parsed = memo.parse(entityId, buf);
    await cache.set(entityId, { value: buf, version: parsed.state.version });
    return parsed;
  }

  /**
   * The history entries of `sources` (`memory-events` offsets), newest first. History is in log
   * order and `memory-enriched` keeps `memory-events`' order, so the scan stops below the lowest;
   * a writer waiting for its outcome finds it among the newest entries.
   */
  async function historyFromNewest(entityId: string, sources: Set<number>): Promise<HistoryEntry[]> {
    const lowest = Math.min(...sources);
    const entries: HistoryEntry[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await kv.scan({ prefix: historyPrefix(entityId), reverse: true, after, limit: Math.min(1000, sources.size + 8) });
      for (const e of page.entries) {
        const entry = parseJson<HistoryEntry>(e.value);
        if (sources.has(entry.source.offset)) entries.push(entry);
        if (entry.source.offset <= lowest) return entries;
      }
      if (page.cursor === undefined) return entries;
      after = page.cursor;
    }
  }

  /** The current (or `asOf`) view of a memory, rendered once per stored state. */
  async function read(tenant: string, namespace: string, key: string, options: ReadOptions & { asOf?: string }): Promise<RenderedMemory> {
    const id = entity(tenant, namespace, key);
    if (options.consistentWith) await waitFor(options.consistentWith);
    if (options.asOf !== undefined) {
      const asOf = parseInstant(options.asOf, 'asOf');
      let state: MemoryState | undefined;
      for (const entry of await readHistory(id)) {
        if (hlcWallMs(entry.event.hlc) > asOf) break;
        state = applyEvent(state, entry.event as MemoryEvent, entry.position).state;
      }
      if (!isVisible(state, asOf)) throw notFound(namespace, key);
      return render(state);
    }
    const parsed = await loadState(id, Boolean(options.consistentWith) && deps.watermarks.follow !== 'announced');
    if (!parsed || !isVisible(parsed.state, Date.now())) throw notFound(namespace, key);
    return (parsed.rendered ??= render(parsed.state));
  }

  // Namespaces are few and read over and over: each is validated once (the set is bounded).
  const validNamespaces = new Set<string>();
  function entity(tenant: string, namespace: string, key: string): string {
    if (!validNamespaces.has(namespace)) {
      validateNamespace(namespace, limits);
      if (validNamespaces.size >= 1024) validNamespaces.clear();
      validNamespaces.add(namespace);
    }
    validateKey(key, limits);
    return encodeEntityId({ tenant, namespace, key });
  }

  const notFound = (namespace: string, key: string) => new NotFoundError('memory_not_found', `no memory ${namespace}/${key}`, { namespace, key });

  async function readHistory(entityId: string): Promise<HistoryEntry[]> {
    const entries: HistoryEntry[] = [];
    let after: string | undefined;
    do {
      const page = await kv.scan({ prefix: historyPrefix(entityId), after, limit: 1000 });
      for (const e of page.entries) entries.push(parseJson<HistoryEntry>(e.value));
      after = page.cursor;
    } while (after);
    return entries;
  }

  return {
    waitFor,

    async get(tenant, namespace, key, options = {}) {
      return (await read(tenant, namespace, key, options)).view;
    },

    async getRendered(tenant, namespace, key, options = {}) {
      return read(tenant, namespace, key, options);
    },

    async list(tenant, namespace, options = {}) {
      validateNamespace(namespace, limits);
      const limit = clampLimit(options.limit, 100, 1000);
      const prefix = `${STATE_PREFIX}${namespaceScanPrefix(tenant, namespace)}${options.prefix ?? ''}`;
      let after = options.cursor === undefined ? undefined : decodeCursor(options.cursor, prefix);
      await waitFor(options.consistentWith);
      const items: MemoryView[] = [];
      const now = Date.now();
      let more = true;
      while (items.length < limit && more) {
        const page = await kv.scan({ prefix, after, limit: limit - items.length });
        for (const e of page.entries) {
          const state = parseJson<MemoryState>(e.value);
          if (isVisible(state, now)) items.push(toView(state));
          after = e.key;
        }
        more = page.cursor !== undefined;
      }
      return more && after ? { items, cursor: encodeCursor(after) } : { items };
    },

    async history(tenant, namespace, key, options = {}) {
      const id = entity(tenant, namespace, key);
      await waitFor(options.consistentWith);
      const prefix = historyPrefix(id);
      const page = await kv.scan({
        prefix,
        after: options.cursor === undefined ? undefined : decodeCursor(options.cursor, prefix),
        limit: clampLimit(options.limit, 100, 1000),
      });
      const entries = page.entries.map((e) => parseJson<HistoryEntry>(e.value));
      if (entries.length === 0 && options.cursor === undefined && !(await kv.get(stateKey(id)))) throw notFound(namespace, key);
      return page.cursor ? { entries, cursor: encodeCursor(page.entries.at(-1)!.key) } : { entries };
    },

    async outcomes(locations) {
      const found = new Map<string, HistoryEntry>();
      const wanted = new Map<string, Set<number>>();
      for (const { entityId, offset } of locations) {
        const offsets = wanted.get(entityId) ?? new Set();
        wanted.set(entityId, offsets.add(offset));
      }
      for (const [entityId, offsets] of wanted) {
        for (const entry of await historyFromNewest(entityId, offsets)) found.set(`${entityId}|${entry.source.offset}`, entry);
      }
      return locations.map(({ entityId, partition, offset }) => {
        const entry = found.get(`${entityId}|${offset}`);
        return entry?.source.partition === partition ? withFields({ ...entry.outcome }, { entityId, position: entry.position }) : undefined;
      });
    },

    async states(ids) {
      const out = new Map<string, MemoryState>();
      const bufs = await kv.getMany(ids.map(stateKey));
      bufs.forEach((b, i) => {
        if (b) out.set(ids[i]!, memo.parse(ids[i]!, b).state);
      });
      return out;
    },
  };
}

function clampLimit(raw: number | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!Number.isSafeInteger(raw) || raw < 1 || raw > max) throw new ValidationError('invalid_limit', `limit must be an integer in [1, ${max}]`, { field: 'limit' });
  return raw;
}

/** Cursors are opaque to clients; they encode the last KV key and are checked to stay in range. */
function encodeCursor(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, prefix: string): string {
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!key.startsWith(prefix)) throw new ValidationError('invalid_cursor', 'cursor does not belong to this listing', { field: 'cursor' });
  return key;
}

export function parseInstant(raw: string, field: string): number {
  const n = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(n)) throw new ValidationError('invalid_field', `${field} must be an ISO-8601 time or epoch milliseconds`, { field });
  return n;
}

function render(state: MemoryState): RenderedMemory {
  const view = Object.freeze(toView(state));
  return { view, json: JSON.stringify(view), etag: `"${view.version}"` };
}
