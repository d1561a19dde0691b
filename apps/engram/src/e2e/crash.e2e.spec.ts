/**
 * Durability: kill -9 the single-node process during a sustained ingest, restart it on the same data
 * directory, and check that every acknowledged event is applied exactly once and nothing
 * acknowledged is missing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { apiClient, removeDataDir, startEngramProcess, tempDataDir } from '@engram/testing';

type Json = Record<string, unknown>;

describe('kill -9 during ingest (engram start, embedded)', () => {
  it('applies every acknowledged event exactly once after a restart', async () => {
    const dataDir = tempDataDir();
    const env = { ENGRAM_API_KEYS: 'crash:key-crash' };
    try {
      const first = await startEngramProcess({ dataDir, env });
      const api = apiClient(first.baseUrl, 'key-crash');
      const counters = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5'];
      const acked: Array<{ eventId: string; key: string }> = [];
      const tokens: string[] = [];
      let stop = false;
      let sent = 0;

      const writer = async (w: number) => {
        for (let batch = 0; !stop; batch++) {
          const events = Array.from({ length: 20 }, (_, i) => ({
            eventId: `w${w}-b${batch}-e${i}`,
            type: 'CounterIncremented',
            namespace: 'crash',
            key: counters[(batch + i) % counters.length]!,
            delta: 1,
            actor: `writer-${w}`,
          }));
          sent += events.length;
          try {
            const res = await api<Json>('POST', '/v1/events', { events });
            if (res.status !== 202) continue;
            for (const e of events) acked.push({ eventId: e.eventId, key: e.key });
            tokens.push(res.body.token as string);
          } catch {
            return; // the process died under us
          }
        }
      };
      const writers = [0, 1, 2, 3].map(writer);
      // Kill once a good amount of work is acknowledged and more is in flight.
      while (acked.length < 1500) await new Promise((r) => setTimeout(r, 10));
      await first.kill();
      stop = true;
      await Promise.all(writers);
      assert.ok(acked.length >= 1500, `acknowledged ${acked.length} of ${sent} sent`);

      const second = await startEngramProcess({ dataDir, env });
      const api2 = apiClient(second.baseUrl, 'key-crash');
      try {
        for (const token of tokens) {
          const r = await api2('GET', `/v1/memories/crash/c0?consistentWith=${token}`);
          assert.ok(r.status === 200 || r.status === 404, `read with token answered ${r.status}`);
        }
        const applied = new Map<string, number>();
        let total = 0;
        for (const key of counters) {
          let cursor: string | undefined;
          do {
            const page = await api2<Json>('GET', `/v1/memories/crash/${key}/history?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
            assert.equal(page.status, 200);
            for (const e of page.body.entries as Json[]) {
              const id = (e.event as Json).eventId as string;
              applied.set(id, (applied.get(id) ?? 0) + 1);
              assert.equal((e.outcome as Json).status, 'applied');
            }
            cursor = page.body.cursor as string | undefined;
          } while (cursor);
          const state = await api2<Json>('GET', `/v1/memories/crash/${key}`);
          total += state.body.value as number;
        }
        for (const { eventId } of acked) assert.equal(applied.get(eventId), 1, `acknowledged ${eventId} applied exactly once`);
        for (const [id, n] of applied) assert.equal(n, 1, `${id} applied once`);
        assert.equal(total, applied.size, 'counter values equal the number of applied events');

        // The dedup state survived too: re-sending acknowledged ids reports duplicates.
        const resend = await api2<Json>('POST', '/v1/events', {
          events: acked.slice(0, 50).map((a) => ({ eventId: a.eventId, type: 'CounterIncremented', namespace: 'crash', key: a.key, delta: 1 })),
        });
        assert.ok((resend.body.results as Json[]).every((r) => r.status === 'duplicate'));
      } finally {
        assert.equal(await second.stop(), 0);
      }
    } finally {
      removeDataDir(dataDir);
    }
  });
});
