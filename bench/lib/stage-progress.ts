/**
 * Where each stage of an embedded `engram start` stands, read from outside while it runs: records in
 * `memory-events` (accepted), in `memory-enriched` (sequenced) and applied by the KV projection
 * (its per-partition watermarks). LMDB lets this process open the server's environments beside it;
 * each sample is a few point reads in one short read transaction.
 */
import { join } from 'node:path';
import { watermarkKey } from '@engram/pipeline';
import { createLmdbEventLog, createLmdbKvStore } from '@engram/ports';
import { nowMs } from './timer.js';

export interface StageCounts {
  accepted: number;
  sequenced: number;
  applied: number;
}

export interface StageSample extends StageCounts {
  /** ms since the sampler started */
  atMs: number;
}

export interface StageSampler {
  /** The counts now, relative to the sampler's start. */
  read(): Promise<StageCounts>;
  /** Every sample taken since start (every `intervalMs`). */
  samples(): StageSample[];
  stop(): Promise<void>;
}

export async function startStageSampler(dataDir: string, options: { partitions: number; intervalMs?: number; topicPrefix?: string }): Promise<StageSampler> {
  const prefix = options.topicPrefix ?? '';
  const log = createLmdbEventLog({ path: join(dataDir, 'log') });
  const kv = createLmdbKvStore({ path: join(dataDir, 'kv') });
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  const absolute = async (): Promise<StageCounts> => {
    log.refreshSnapshot?.();
    kv.refreshSnapshot?.();
    const marks = await kv.getMany(Array.from({ length: options.partitions }, (_, p) => watermarkKey(p)));
    return {
      accepted: sum(await log.endOffsets(`${prefix}memory-events`)),
      sequenced: sum(await log.endOffsets(`${prefix}memory-enriched`)),
      // A partition's watermark is the last applied `memory-enriched` offset (-1 before any).
      applied: sum(marks.map((b) => (b ? (JSON.parse(b.toString('utf8')) as { enrichedOffset: number }).enrichedOffset + 1 : 0))),
    };
  };
  const base = await absolute();
  const start = nowMs();
  const read = async (): Promise<StageCounts> => {
    const now = await absolute();
    return { accepted: now.accepted - base.accepted, sequenced: now.sequenced - base.sequenced, applied: now.applied - base.applied };
  };
  const taken: StageSample[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      taken.push({ atMs: nowMs() - start, ...(await read()) });
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
    }
  })();
  return {
    read,
    samples: () => [...taken],
    async stop() {
      stopped = true;
      await loop;
      await log.close();
      await kv.close();
    },
  };
}
