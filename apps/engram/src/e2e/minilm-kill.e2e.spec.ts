/**
 * Kill -9 `engram start` while the enrichment worker is embedding with the real model (MiniLM), then
 * restart it on the same data directory: no event is lost, none is embedded twice — the canonical
 * log `memory-enriched` holds each accepted event once, with its text vector, and the vector index
 * holds one vector per memory. Needs the model (`npm run model:fetch`, or engines:up).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '@engram/config';
import { createPipelineCodecs, createTopics, createVectorCollections } from '@engram/pipeline';
import { embedderInfo, openPorts } from '@engram/runtime';
import { apiClient, eventually, removeDataDir, requireEngine, startEngramProcess, tempDataDir } from '@engram/testing';

type Json = Record<string, unknown>;
const ENTITIES = 150;

async function embedded(baseUrl: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return [...text.matchAll(/^engram_embeddings_total\{result="ok"\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

describe('kill -9 while embedding with MiniLM (engram start, embedded)', () => {
  it('loses no event and embeds none twice', async (t) => {
    const modelDir = requireEngine(t, 'model', 'ENGRAM_MODEL_DIR');
    if (modelDir === undefined) return;
    const dataDir = tempDataDir();
    const env = { ENGRAM_API_KEYS: 'mk:key-mk', ENGRAM_EMBEDDER: 'minilm', ENGRAM_MODEL_DIR: modelDir };
    try {
      const first = await startEngramProcess({ dataDir, env, timeoutMs: 60_000 });
      const api = apiClient(first.baseUrl, 'key-mk');
      const accepted: string[] = [];
      const tokens: string[] = [];
      // 300 events over 150 memories: every memory written twice, so the index must keep one vector each.
      for (let round = 0; round < 2; round++) {
        for (let b = 0; b < ENTITIES / 25; b++) {
          const events = Array.from({ length: 25 }, (_, i) => {
            const n = b * 25 + i;
            return { eventId: `r${round}-m${n}`, type: 'MemoryWritten', namespace: 'notes', key: `m${n}`, value: n, text: `note ${n}, version ${round}: the meeting about topic ${n % 17} moved to room ${n % 11}` };
          });
          const res = await api<Json>('POST', '/v1/events', { events });
          assert.equal(res.status, 202);
          accepted.push(...events.map((e) => e.eventId));
          tokens.push(res.body.token as string);
        }
      }
      // Kill in the middle of enrichment: some texts embedded, most not yet.
      const atKill = await eventually(async () => {
        const n = await embedded(first.baseUrl);
        return n >= 20 ? n : undefined;
      }, 60_000);
      await first.kill();
      assert.ok(atKill < accepted.length, `killed mid-enrichment (${atKill} of ${accepted.length} texts embedded)`);

      const second = await startEngramProcess({ dataDir, env, timeoutMs: 60_000 });
      try {
        const api2 = apiClient(second.baseUrl, 'key-mk');
        for (const token of tokens) {
          const r = await api2<Json>('POST', '/v1/search', { query: 'meeting room', mode: 'vector', k: 1, consistentWith: token });
          assert.equal(r.status, 200, JSON.stringify(r.body));
        }
        const probe = await api2<Json>('POST', '/v1/search', { query: 'note 42, version 1: the meeting about topic 8 moved to room 9', mode: 'vector', k: 1 });
        assert.equal((probe.body.results as Json[])[0]?.key, 'm42');
      } finally {
        assert.equal(await second.stop(), 0);
      }

      const config = loadConfig({ ...env, ENGRAM_DATA_DIR: dataDir });
      const ports = await openPorts(config, new Set(['vectors'] as const));
      try {
        const topics = createTopics({ prefix: config.topicPrefix, partitions: config.partitions });
        const codecs = await createPipelineCodecs(ports.registry, topics);
        const seen = new Map<string, number>();
        for (let p = 0; p < topics.partitions; p++) {
          for (let next = 0; ; ) {
            const batch = await ports.log.read(topics.enriched, p, next, 500);
            if (batch.length === 0) break;
            for (const r of batch) {
              const enriched = await codecs.enriched.decode(r.value!);
              assert.equal(enriched.enrichmentError, undefined);
              assert.deepEqual(enriched.embeddings.map((e) => [e.modality, e.model, e.dims]), [['text', 'Xenova/all-MiniLM-L6-v2', 384]]);
              seen.set(enriched.event.eventId, (seen.get(enriched.event.eventId) ?? 0) + 1);
            }
            next = batch[batch.length - 1]!.offset + 1;
          }
        }
        for (const id of accepted) assert.equal(seen.get(id), 1, `${id} is in memory-enriched exactly once`);
        assert.equal(seen.size, accepted.length);
        const collections = createVectorCollections({ textModel: await embedderInfo(config), clientModalities: {} });
        assert.equal(await ports.vectors!.count(collections.nameFor('text')!), ENTITIES, 'one vector per memory');
      } finally {
        await ports.close();
      }
    } finally {
      removeDataDir(dataDir);
    }
  });
});
