/**
 * `engram start` with the KV projection in its own worker thread (the embedded default) and on the
 * main thread (ENGRAM_PROJECTION_THREAD=off): the same answers either way. What crosses threads is
 * checked where it could break: a write acknowledged with `?wait=applied` reports its outcome (the
 * main thread must read KV past the projection thread's commit), a read right after it returns the
 * new version even when the old one is in the main thread's cache, and the thread's metrics show
 * in /metrics.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { apiClient, ns, removeDataDir, startEngramProcess, type EngramProcess } from '@engram/testing';

type Json = Record<string, unknown>;

for (const mode of ['on', 'off'] as const) {
  describe(`projection on ${mode === 'on' ? 'its own thread' : 'the main thread'} (ENGRAM_PROJECTION_THREAD=${mode})`, () => {
    let engram: EngramProcess;
    let client: ReturnType<typeof apiClient>;

    before(async () => {
      engram = await startEngramProcess({ env: { ENGRAM_API_KEYS: 't:key-t', ENGRAM_PROJECTION_THREAD: mode } });
      client = apiClient(engram.baseUrl, 'key-t');
    });
    after(async () => {
      const code = await engram.stop();
      removeDataDir(engram.dataDir);
      assert.equal(code, 0, 'SIGTERM stops the process and its thread cleanly');
    });

    it('says where the projection runs', () => {
      const line = engram.output.find((l) => l.includes('engram listening'));
      assert.ok(line, 'the listening line was logged');
      assert.equal(JSON.parse(line).projectionOn, mode === 'on' ? 'projection thread' : 'main thread');
    });

    it('answers every acknowledged write with its outcome, and reads see it at once, through the cache', async () => {
      const path = `/v1/memories/${ns(`ryw-${mode}`)}/counter`;
      for (let i = 1; i <= 60; i++) {
        const put = await client<Json>('PUT', `${path}?wait=applied`, { value: i });
        assert.equal(put.status, 200, `write ${i}`);
        assert.equal(put.headers.get('etag'), `"${i}"`, `write ${i} reports version ${i}`);
        // Read twice: the first read may fill the cache; neither may return the previous version.
        for (let r = 0; r < 2; r++) {
          const get = await client<Json>('GET', path);
          assert.equal(get.status, 200);
          assert.equal(get.body.value, i, `read ${r} after write ${i}`);
        }
      }
    });

    it('reports the projection thread’s counters in /metrics', async () => {
      await client('PUT', `/v1/memories/${ns(`metrics-${mode}`)}/one?wait=applied`, { value: 1 });
      const text = await (await fetch(`${engram.baseUrl}/metrics`)).text();
      const applied = Number(/^engram_events_applied_total\{outcome="applied"\} (\d+)/m.exec(text)?.[1]);
      assert.ok(applied >= 61, `applied events counted: ${applied}`);
      assert.match(text, /^engram_projection_freshness_seconds_count \d+/m);
    });
  });
}
