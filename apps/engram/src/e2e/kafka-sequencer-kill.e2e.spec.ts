/**
 * The enrichment worker is the sequencer (DESIGN.md section 3). Kill -9 it repeatedly during an
 * ingest that includes re-sent event ids; reading `memory-enriched` end to end then finds every
 * accepted event exactly once, in per-entity order.
 *
 * Re-sent ids must really reach `memory-events` for the sequencer to have something to drop: each
 * batch is re-sent to a second ingest-api process, whose best-effort duplicate window (loaded when
 * it first wrote to a partition) does not know what the first process accepted since.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '@engram/config';
import { createConsumerGroups, createPipelineCodecs, createTopics } from '@engram/pipeline';
import type { EventLog, StoredRecord } from '@engram/ports';
import { openPorts } from '@engram/runtime';
import { apiClient, eventually, removeDataDir, startEngramProcess, tempDataDir, withEngine, type EngramProcess } from '@engram/testing';
import { kafkaSettings } from './kafka-fixture.js';

type Json = Record<string, unknown>;

/** A lost connection is re-sent with the same event ids, as a client would (the ids make it safe). */
async function resending<T>(post: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await post();
    } catch (error) {
      if (attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function readAll(log: EventLog, topic: string, partitions: number): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for (let p = 0; p < partitions; p++) {
    for (let next = 0; ; ) {
      const batch = await log.read(topic, p, next, 1000);
      if (batch.length === 0) break;
      out.push(...batch);
      next = batch[batch.length - 1]!.offset + 1;
    }
  }
  return out;
}

withEngine('sequencer killed repeatedly (kafka)', 'kafka', 'ENGRAM_KAFKA_BROKERS', (brokers) => {
  describe('sequencer killed repeatedly (kafka)', () => {
    it('memory-enriched holds every accepted event exactly once, in per-entity order', async () => {
      const settings = { ...kafkaSettings(brokers, 'sequencer'), ENGRAM_API_KEYS: 'sq:key-sq' };
      const dirs: string[] = [];
      const running = new Set<EngramProcess>();
      const start = async (command: string): Promise<EngramProcess> => {
        const dataDir = tempDataDir();
        dirs.push(dataDir);
        const p = await startEngramProcess({ command, dataDir, env: settings, timeoutMs: 60_000 });
        running.add(p);
        return p;
      };
      const config = loadConfig({ ...settings, ENGRAM_DATA_DIR: tempDataDir() });
      dirs.push(config.dataDir);
      const ports = await openPorts(config, new Set());
      try {
        const [a, b] = [apiClient((await start('ingest-api')).baseUrl, 'key-sq'), apiClient((await start('ingest-api')).baseUrl, 'key-sq')];
        let sequencer = await start('enrichment-worker');

        const accepted = new Set<string>();
        let resent = 0;
        let stop = false;
        const batch = (w: number, n: number) =>
          Array.from({ length: 10 }, (_, i) => ({
            eventId: `w${w}-n${n}-e${i}`,
            type: 'MemoryWritten',
            namespace: 'seq',
            key: `k${(n + i) % 12}`,
            value: { w, n, i },
            text: `writer ${w} note ${n} item ${i}`,
            actor: `writer-${w}`,
          }));
        const postTo = async (client: typeof a, events: ReturnType<typeof batch>): Promise<Json[]> => {
          const response = await resending(() => client<Json>('POST', '/v1/events', { events }));
          assert.equal(response.status, 202, JSON.stringify(response.body));
          return response.body.results as Json[];
        };
        const writer = async (w: number) => {
          for (let n = 0; !stop; n++) {
            const events = batch(w, n);
            await postTo(a, events);
            for (const e of events) accepted.add(e.eventId);
            // The same batch again, through the other ingest process.
            resent += (await postTo(b, events)).filter((r) => r.status === 'accepted').length;
          }
        };
        const writers = [0, 1].map(writer);
        for (let kill = 0; kill < 4; kill++) {
          await new Promise((resolve) => setTimeout(resolve, 1500));
          await sequencer.kill();
          running.delete(sequencer);
          sequencer = await start('enrichment-worker');
        }
        stop = true;
        await Promise.all(writers);
        assert.ok(resent > 0, 'some re-sent events reached memory-events as new records');

        const topics = createTopics({ prefix: config.topicPrefix, partitions: config.partitions });
        const group = createConsumerGroups(config.topicPrefix).enrichment;
        const codecs = await createPipelineCodecs(ports.registry, topics);
        // The last sequencer has consumed all of memory-events (no transactions there: end = last + 1).
        const caughtUp = async (): Promise<void> => {
          let seen = 'nothing';
          await eventually(async () => {
            const [end, committed] = await Promise.all([ports.log.endOffsets(topics.events), ports.log.committedOffsets(group, topics.events)]);
            seen = `end offsets ${JSON.stringify(end)}, committed ${JSON.stringify(committed)}`;
            return end.every((e, p) => committed[p] === e) ? true : undefined;
          }, 90_000).catch((error: Error) => {
            throw new Error(`${error.message}; last seen: ${seen}`);
          });
        };
        await caughtUp();
        // Last, a batch re-sent to a sequencer that has caught up: the copies come alone, every
        // record a duplicate, and the sequencer must still commit past them.
        const last = batch(9, 0);
        await postTo(a, last);
        for (const e of last) accepted.add(e.eventId);
        await caughtUp();
        assert.equal((await postTo(b, last)).filter((r) => r.status === 'accepted').length, last.length, 'the last batch reached memory-events twice');
        await caughtUp();

        const events = await readAll(ports.log, topics.events, topics.partitions);
        const enriched = await readAll(ports.log, topics.enriched, topics.partitions);
        assert.ok(events.length > accepted.size, `memory-events holds duplicates (${events.length} records, ${accepted.size} distinct)`);
        const ids = await Promise.all(enriched.map(async (r) => (await codecs.enriched.decode(r.value!)).event));
        const counts = new Map<string, number>();
        for (const e of ids) counts.set(e.eventId, (counts.get(e.eventId) ?? 0) + 1);
        for (const id of accepted) assert.equal(counts.get(id), 1, `accepted ${id} is in memory-enriched exactly once`);
        assert.equal(counts.size, accepted.size, 'memory-enriched holds nothing else');

        // Per entity: memory-enriched follows the order of first appearance in memory-events.
        const firstSeen = new Map<string, string[]>();
        const seen = new Set<string>();
        for (const r of events) {
          const e = await codecs.event.decode(r.value!);
          if (seen.has(e.eventId)) continue;
          seen.add(e.eventId);
          firstSeen.set(e.key, [...(firstSeen.get(e.key) ?? []), e.eventId]);
        }
        const inEnriched = new Map<string, string[]>();
        for (const e of ids) inEnriched.set(e.key, [...(inEnriched.get(e.key) ?? []), e.eventId]);
        assert.deepEqual(inEnriched, firstSeen, 'per-entity order is kept');
      } finally {
        for (const p of running) await p.kill();
        await ports.close();
        for (const dir of dirs) removeDataDir(dir);
      }
    });
  });
});
