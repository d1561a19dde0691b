/**
 * Each app runs on its own: ingest-api, enrichment-worker, projection-worker and query-api as
 * separate processes over one embedded data directory, one after another, hand the work down the
 * pipeline. (On embedded defaults the vector index and cache belong to one process at a time, so the
 * processes that open them do not overlap here; the distributed adapters lift that.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { apiClient, eventually, removeDataDir, startEngramProcess, tempDataDir } from '@engram/testing';

type Json = Record<string, unknown>;
const env = { ENGRAM_API_KEYS: 'solo:key-solo' };

async function metric(baseUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+(?:\\.\\d+)?)$`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);
}

describe('apps on their own (embedded data directory)', () => {
  it('ingest-api → enrichment-worker → projection-worker → query-api', async () => {
    const dataDir = tempDataDir();
    try {
      const ingest = await startEngramProcess({ command: 'ingest-api', dataDir, env });
      const write = await apiClient(ingest.baseUrl, 'key-solo')<Json>('PUT', '/v1/memories/solo/fact', { value: 'handed down', text: 'a fact handed down the pipeline' });
      assert.equal(write.status, 202);
      const token = write.body.token as string;
      // ingest-api alone serves no reads.
      assert.equal((await apiClient(ingest.baseUrl, 'key-solo')('GET', '/v1/memories/solo/fact')).status, 405);
      assert.equal(await ingest.stop(), 0);

      const enrichment = await startEngramProcess({ command: 'enrichment-worker', dataDir, env });
      assert.equal((await fetch(`${enrichment.baseUrl}/healthz`)).status, 200);
      await eventually(async () => ((await metric(enrichment.baseUrl, 'engram_embeddings_total')) >= 1 ? true : undefined));
      assert.equal(await enrichment.stop(), 0);

      const projection = await startEngramProcess({ command: 'projection-worker', dataDir, env });
      await eventually(async () => ((await metric(projection.baseUrl, 'engram_events_applied_total')) >= 1 ? true : undefined));
      assert.equal(await projection.stop(), 0);

      const query = await startEngramProcess({ command: 'query-api', dataDir, env });
      const api = apiClient(query.baseUrl, 'key-solo');
      const read = await api<Json>('GET', `/v1/memories/solo/fact?consistentWith=${token}`);
      assert.equal(read.status, 200);
      assert.equal(read.body.value, 'handed down');
      // Its keyword index is built from what the projection-worker stored.
      const search = await api<Json>('POST', '/v1/search', { query: 'handed down', mode: 'keyword', k: 5, consistentWith: token });
      assert.deepEqual((search.body.results as Json[]).map((r) => r.key), ['fact']);
      assert.equal((await api('POST', '/v1/events', { events: [] })).status, 404, 'query-api alone takes no writes');
      assert.equal(await query.stop(), 0);
    } finally {
      removeDataDir(dataDir);
    }
  });
});
