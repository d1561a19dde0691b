/**
 * The expiry sweeper (DESIGN.md section 2: "reads hide an expired memory; a sweeper later appends its
 * deletion"). It scans the expiry index for memories whose `expiresAt` has passed and appends a
 * MemoryDeleted for each through the normal ingest path, so the deletion is in the log like any other
 * event: replayable, in history, propagated to every projection.
 *
 * Safe to repeat and to race: the event id is derived from the entity and its version (a repeated
 * sweep is a duplicate), and `expectedVersion` is the version seen, so a write that lands first (a
 * refresh of the memory) wins and the sweep's deletion is rejected.
 */
import { createHash } from 'node:crypto';
import { decodeEntityId, type MemoryEvent, type MemoryState } from '@engram/core';
import type { KvStore } from '@engram/ports';
import type { IngestService } from '../ingest/ingest-service.js';
import { EXPIRY_PREFIX, expiryKey, parseJson, stateKey } from '../kv-keys.js';
import type { Telemetry } from '../telemetry.js';

export interface ExpirySweeperOptions {
  kv: KvStore;
  ingest: IngestService;
  telemetry: Telemetry;
  /** @default 5000 */
  intervalMs?: number;
  /** Most deletions appended per sweep. @default 500 */
  batch?: number;
}

export interface ExpirySweeper {
  /** One sweep now; resolves with the number of deletions appended. */
  sweepOnce(now?: number): Promise<number>;
  stop(): Promise<void>;
}

export function sweepEventId(entityId: string, version: number): string {
  return `expired.${createHash('sha256').update(entityId).digest('base64url').slice(0, 32)}.${version}`;
}

export function startExpirySweeper(options: ExpirySweeperOptions): ExpirySweeper {
  const { kv, ingest } = options;
  const limit = options.batch ?? 500;
  let running: Promise<number> | undefined;

  async function sweepOnce(now = Date.now()): Promise<number> {
    const due = await kv.scan({ prefix: EXPIRY_PREFIX, limit });
    const ids = due.entries
      .filter((e) => e.key < expiryKey(now + 1, ''))
      .map((e) => e.key.slice(e.key.indexOf('|', EXPIRY_PREFIX.length) + 1));
    if (ids.length === 0) return 0;
    const states = await kv.getMany(ids.map(stateKey));
    const events: MemoryEvent[] = [];
    ids.forEach((entityId, i) => {
      const state = states[i] ? parseJson<MemoryState>(states[i]!) : undefined;
      if (!state || state.deleted || state.expiresAt === undefined || state.expiresAt > now) return;
      const { tenant, namespace, key } = decodeEntityId(entityId);
      events.push({
        type: 'MemoryDeleted',
        eventId: sweepEventId(entityId, state.version),
        tenant,
        namespace,
        key,
        actor: 'engram-expiry',
        hlc: ingest.clock.now(),
        expectedVersion: state.version,
        metadata: { tags: [], attributes: {} },
      });
    });
    if (events.length > 0) await ingest.appendInternal(events);
    return events.length;
  }

  const tick = async () => {
    if (running) return;
    running = sweepOnce().catch((error) => {
      options.telemetry.logger.warn({ err: error }, 'expiry sweep failed');
      return 0;
    });
    await running;
    running = undefined;
  };
  const timer = setInterval(() => void tick(), options.intervalMs ?? 5000);
  timer.unref();

  return {
    sweepOnce,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
