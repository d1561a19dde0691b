import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@engram/config';
import { createAppliedWatermarks, createRecordHandoff, createSignal, createTelemetry } from '@engram/pipeline';
import { createLmdbEventLog, createLmdbKvStore, createLruCache } from '@engram/ports';
import { startProjectionThread } from './projection-thread.js';

describe('projection thread', () => {
  it('rejects its start with the thread’s own reason when it cannot open its stores, and leaves no thread behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'engram-thread-'));
    const kv = createLmdbKvStore({ path: join(dir, 'kv') });
    const log = createLmdbEventLog({ path: join(dir, 'log') });
    // The thread opens `<dataDir>/log`, `<dataDir>/registry`, …: a data directory that is a file cannot hold them.
    const notADir = join(dir, 'plain-file');
    writeFileSync(notADir, 'x');
    const config = loadConfig({ ENGRAM_DATA_DIR: notADir, ENGRAM_EMBEDDER: 'hash', ENGRAM_LOG_LEVEL: 'silent' });
    const watermarks = createAppliedWatermarks({ kv, partitions: config.partitions });
    const started = performance.now();
    await assert.rejects(
      startProjectionThread(config, { kv, log, cache: createLruCache(), watermarks, stateAppended: createSignal(), handoff: createRecordHandoff(), telemetry: createTelemetry({ level: 'silent', defaultMetrics: false }) }),
      (error: Error) => /ENOTDIR|not a directory|EEXIST/i.test(error.message),
    );
    assert.ok(performance.now() - started < 30_000);
    watermarks.close();
    await log.close();
    await kv.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
