/**
 * Two projection workers in one consumer group on the real Kafka broker: kill -9 one of them during
 * a sustained ingest; the other takes over its partitions. Every acknowledged event is applied
 * exactly once, and the final state equals a fresh replay of `memory-enriched`.
 *
 * Processes: ingest-api, enrichment-worker and two projection-workers, each its own `engram <app>`
 * with its own data directory; the two projection workers share one KV directory (the KV is the
 * shared store of the distributed deployment; each keeps its own embedded vector index).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLmdbKvStore } from '@engram/ports';
import { apiClient, eventually, removeDataDir, startEngramProcess, withEngine, type EngramProcess } from '@engram/testing';
import { STATE_PREFIX } from '@engram/pipeline';
import { dataDirSharingKv, dump, kafkaSettings, replayEnriched, sharedKvDir } from './kafka-fixture.js';

type Json = Record<string, unknown>;
const COUNTERS = Array.from({ length: 16 }, (_, i) => `c${i}`);

async function applied(baseUrl: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return [...text.matchAll(/^engram_events_applied_total(?:\{[^}]*\})? (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

withEngine('two projection workers, one killed (kafka)', 'kafka', 'ENGRAM_KAFKA_BROKERS', (brokers) => {
  describe('two projection workers, one killed (kafka)', () => {
    it('the survivor takes over; every acknowledged event is applied once; state equals a fresh replay', async () => {
      const settings = { ...kafkaSettings(brokers, 'takeover'), ENGRAM_API_KEYS: 'tk:key-tk' };
      const shared = sharedKvDir();
      const dirs: string[] = [shared.root];
      const processes: EngramProcess[] = [];
      const start = async (command: string): Promise<EngramProcess> => {
        const dataDir = dataDirSharingKv(shared.kv);
        dirs.push(dataDir);
        const p = await startEngramProcess({ command, dataDir, env: settings, timeoutMs: 60_000 });
        processes.push(p);
        return p;
      };
      try {
        const ingest = await start('ingest-api');
        await start('enrichment-worker');
        const [first, second] = [await start('projection-worker'), await start('projection-worker')];
        const api = apiClient(ingest.baseUrl, 'key-tk');

        const acked: string[] = [];
        const failures: string[] = [];
        let stop = false;
        const writer = async (w: number) => {
          for (let b = 0; !stop; b++) {
            const events = Array.from({ length: 20 }, (_, i) => ({
              eventId: `w${w}-b${b}-e${i}`,
              type: 'CounterIncremented',
              namespace: 'takeover',
              key: COUNTERS[(b * 7 + i) % COUNTERS.length]!,
              delta: 1,
              actor: `writer-${w}`,
            }));
            // A lost connection is re-sent with the same event ids, as a client would: the ids make
            // the retry safe (a copy that did land is reported as a duplicate and applied once).
            let res: Awaited<ReturnType<typeof api<Json>>> | undefined;
            for (let attempt = 1; res === undefined; attempt++) {
              try {
                res = await api<Json>('POST', '/v1/events', { events });
              } catch (error) {
                if (attempt >= 5) throw error;
                await new Promise((resolve) => setTimeout(resolve, 100));
              }
            }
            if (res.status === 202) acked.push(...events.map((e) => e.eventId));
            else failures.push(`${res.status} ${JSON.stringify(res.body)}`);
          }
        };
        const writers = [0, 1, 2].map(writer);

        // Both workers own partitions and are applying; then one dies mid-ingest.
        await eventually(async () => ((await applied(first.baseUrl)) > 0 && (await applied(second.baseUrl)) > 0 && acked.length >= 600 ? true : undefined), 60_000);
        await first.kill();
        const killedAt = acked.length;
        await eventually(async () => (acked.length >= killedAt + 600 ? true : undefined), 60_000);
        stop = true;
        await Promise.all(writers);
        assert.deepEqual(failures, [], 'ingest kept answering 202');

        // The survivor applies everything, the dead worker's partitions included (after its session times out).
        const kv = createLmdbKvStore({ path: shared.kv });
        try {
          const total = async (): Promise<number> => {
            let sum = 0;
            for (const state of (await dump(kv, STATE_PREFIX)).values()) sum += (JSON.parse(state) as { value: number }).value;
            return sum;
          };
          await eventually(async () => ((await total()) === acked.length ? true : undefined), 90_000).catch(async () => {
            assert.fail(`counters sum to ${await total()}, ${acked.length} increments were acknowledged`);
          });
          const history = await dump(kv, 'h|');
          const seen = new Map<string, number>();
          for (const entry of history.values()) {
            const { event, outcome } = JSON.parse(entry) as { event: { eventId: string }; outcome: { status: string } };
            assert.equal(outcome.status, 'applied');
            seen.set(event.eventId, (seen.get(event.eventId) ?? 0) + 1);
          }
          for (const id of acked) assert.equal(seen.get(id), 1, `acknowledged ${id} applied exactly once`);
          assert.equal(seen.size, acked.length, 'nothing but the acknowledged events was applied');

          // Stop the rest, then compare with a replay of the canonical log into a fresh KV.
          for (const p of processes.slice(1).filter((p) => p !== first)) assert.equal(await p.stop(), 0);
          const replay = await replayEnriched(settings);
          try {
            assert.equal(replay.records, acked.length, 'memory-enriched holds each acknowledged event once');
            assert.deepEqual(await dump(kv, STATE_PREFIX), replay.states, 'live state equals the replayed state');
            assert.deepEqual(await dump(kv, 'h|'), replay.history, 'live history equals the replayed history');
          } finally {
            await replay.close();
          }
        } finally {
          await kv.close();
        }
      } finally {
        // A process that died on its own says why here (the harness keeps every line it printed).
        for (const p of processes) if (p.child.exitCode !== null && p.child.exitCode !== 0) console.error(`process exited ${p.child.exitCode}:\n${p.output.slice(-15).join('\n')}`);
        for (const p of processes) await p.kill();
        for (const dir of dirs) removeDataDir(dir);
      }
    });
  });
});
