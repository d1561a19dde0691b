/**
 * Keyword search over the real `engram start`, with the index in memory (the embedded default) and
 * in the KV store (ENGRAM_KEYWORD_INDEX=kv): the same answers either way, and after a kill -9 and a
 * restart on the same data directory (the in-memory index is rebuilt from the KV projection; a token
 * from before the crash is honoured).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { apiClient, removeDataDir, startEngramProcess, tempDataDir } from '@engram/testing';

type Json = Record<string, unknown>;

for (const mode of ['memory', 'kv'] as const) {
  describe(`keyword search, ENGRAM_KEYWORD_INDEX=${mode}`, () => {
    it('finds current texts only, before and after kill -9 and a restart', async () => {
      const dataDir = tempDataDir();
      const env = { ENGRAM_API_KEYS: 'kw:key-kw,other:key-other', ENGRAM_KEYWORD_INDEX: mode, ENGRAM_EMBEDDER: 'hash' };
      try {
        const first = await startEngramProcess({ dataDir, env });
        const api = apiClient(first.baseUrl, 'key-kw');
        const write = async (key: string, text: string) => (await api<Json>('PUT', `/v1/memories/notes/${key}`, { value: key, text })).body.token as string;
        await write('zebra', 'zebras graze on the savanna at dawn');
        await write('penguin', 'penguins swim in cold water');
        await write('owl', 'owls hunt at night');
        await write('lion', 'lions sleep most of the day');
        await api('DELETE', '/v1/memories/notes/owl');
        let token = await write('lion', 'lions hunt at dusk');
        type Client = ReturnType<typeof apiClient>;
        const keywords = async (client: Client, query: string, consistentWith: string) => {
          const res = await client<Json>('POST', '/v1/search', { query, mode: 'keyword', k: 10, consistentWith });
          assert.equal(res.status, 200, JSON.stringify(res.body));
          return (res.body.results as Json[]).map((r) => r.key);
        };
        const check = async (baseUrl: string) => {
          const client = apiClient(baseUrl, 'key-kw');
          assert.deepEqual(await keywords(client, 'hunt', token), ['lion']);
          assert.deepEqual(await keywords(client, 'sleep', token), []);
          assert.deepEqual(await keywords(client, 'zebra savanna', token), ['zebra']);
          assert.deepEqual(await keywords(client, 'owls night', token), []);
          assert.deepEqual((await keywords(client, 'penguins water dawn', token)).sort(), ['penguin', 'zebra']);
          // Another tenant sees none of it.
          assert.deepEqual(await keywords(apiClient(baseUrl, 'key-other'), 'zebra hunt penguin', token), []);
        };
        await check(first.baseUrl);
        if (mode === 'memory') {
          const metrics = await (await fetch(`${first.baseUrl}/metrics`)).text();
          assert.match(metrics, /^engram_keyword_index_documents 3$/m, 'zebra, penguin and lion are indexed; the owl is gone');
        }
        await first.kill();

        const second = await startEngramProcess({ dataDir, env });
        try {
          await check(second.baseUrl);
          const api2 = apiClient(second.baseUrl, 'key-kw');
          token = (await api2<Json>('PUT', '/v1/memories/notes/owl', { value: 'owl', text: 'owls are back at night' })).body.token as string;
          assert.deepEqual(await keywords(api2, 'owls', token), ['owl']);
          const hybrid = await api2<Json>('POST', '/v1/search', { query: 'owls at night', mode: 'hybrid', k: 3, consistentWith: token });
          assert.equal((hybrid.body.results as Json[])[0]?.key, 'owl');
        } finally {
          assert.equal(await second.stop(), 0);
        }
      } finally {
        removeDataDir(dataDir);
      }
    });
  });
}
