/**
 * Where each stage of an embedded `engram start` stands, read from outside while it runs: records in
 * `memory-events` (accepted), in `memory-enriched` (sequenced) and applied by the KV projection
 * (its per-partition watermarks). LMDB lets this process open the server's environments beside it;
 * a reading is a few point reads.
 */
import { join } from 'node:path';
import { parseJson, watermarkKey, type Watermark } from '@engram/pipeline';
import { createLmdbEventLog, createLmdbKvStore } from '@engram/ports';

export interface StageCounts {
  accepted: number;
  sequenced: number;
  applied: number;
}

export interface StageProgress {
  /** The counts now, minus those when it was opened. */
  read(): Promise<StageCounts>;
  close(): Promise<void>;
}

export async function openStageProgress(dataDir: string, options: { partitions: number; topicPrefix?: string }): Promise<StageProgress> {
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
      applied: sum(marks.map((b) => (b ? parseJson<Watermark>(b).enrichedOffset + 1 : 0))),
    };
  };
  const base = await absolute();
  return {
    async read() {
      const now = await absolute();
      return { accepted: now.accepted - base.accepted, sequenced: now.sequenced - base.sequenced, applied: now.applied - base.applied };
    },
    async close() {
      await log.close();
      await kv.close();
    },
  };
}
