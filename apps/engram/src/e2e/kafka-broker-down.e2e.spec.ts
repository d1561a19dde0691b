/**
 * The Kafka broker dies during a sustained ingest (issue 3): `engram start` on ENGRAM_LOG=kafka
 * against a private broker (the shared one serves the other test files), four writers POSTing
 * batches of counter increments with their own event ids, and the broker SIGKILLed (a crash, not a
 * controlled shutdown) mid-ingest. While it is down every request must answer, within a bound,
 * 503 problem+json `log_unavailable` — no hang, no 2xx. Once it is back, ingest must succeed again
 * within a bound, and every acknowledged event must be applied exactly once: writers re-send a
 * failed batch with the same event ids until it is acknowledged, so each counter must end at the
 * number of batches and its history must list each event id once, applied.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  apiClient,
  removeDataDir,
  requireEngine,
  requireKafkaHome,
  startEngramProcess,
  startPrivateKafka,
  tempDataDir,
  type EngramProcess,
  type PrivateKafka,
} from '@engram/testing';

type Json = Record<string, unknown>;

const WRITERS = 4;
const COUNTERS = ['c0', 'c1', 'c2', 'c3']; // each batch increments each counter once
const NAMESPACE = 'outage';
/** The acceptance bound on any one request, outage or not. */
const ANSWER_WITHIN_MS = 15_000;
/** Past this the client gives up on a request: it hung. */
const CLIENT_ABORT_MS = 20_000;
const RECOVER_WITHIN_MS = 30_000;
/** Acknowledged batches per writer before the kill, and again after the restart. */
const BATCHES_EACH_SIDE = 10;
const PAUSE_AFTER_ACK_MS = 20;
const PAUSE_AFTER_FAILURE_MS = 200;

interface Attempt {
  writer: number;
  batch: number;
  resend: boolean;
  started: number;
  ended: number;
  /** HTTP status, or what happened instead of an answer. */
  status: number | 'hung' | 'network-error';
  contentType?: string | null;
  body?: Json;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ms = (n: number) => `${Math.round(n)} ms`;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

it('broker killed during ingest: 503 log_unavailable while down, ingest resumes, nothing acknowledged is lost', async (t) => {
  const kafkaHome = requireKafkaHome(t);
  if (kafkaHome === undefined) return;
  const registry = requireEngine(t, 'schema registry', 'ENGRAM_SCHEMA_REGISTRY_URL');
  if (registry === undefined) return;

  const run = randomBytes(4).toString('hex');
  let broker: PrivateKafka | undefined;
  let engram: EngramProcess | undefined;
  let passed = false;
  const dataDir = tempDataDir(); // ours, so it goes even when engram fails to start
  /** Engram's own recent log lines (kafkajs' connection chatter left out), for failure messages. */
  const engramLog = (): string =>
    (engram?.output ?? []).filter((line) => !line.includes('"logger":"kafkajs"')).slice(-15).map((line) => line.slice(0, 600)).join('\n');
  try {
    broker = await startPrivateKafka({ kafkaHome });
    engram = await startEngramProcess({
      dataDir,
      env: {
        ENGRAM_API_KEYS: 'outage:key-outage',
        ENGRAM_LOG: 'kafka',
        ENGRAM_KAFKA_BROKERS: broker.brokers,
        ENGRAM_SCHEMA_REGISTRY_URL: registry,
        ENGRAM_TOPIC_PREFIX: `outage-${run}-`,
        ENGRAM_KAFKA_TRANSACTIONAL_ID: `outage-${run}`,
        ENGRAM_PARTITIONS: '4',
      },
      timeoutMs: 60_000,
    });
    const api = apiClient(engram.baseUrl, 'key-outage');
    const attempts: Attempt[] = [];
    const lastToken = new Map<number, string>();
    const batches = new Array<number>(WRITERS).fill(0); // acknowledged batches per writer
    let stopping = false;

    const post = async (writer: number, batch: number, resend: boolean, events: Json[]): Promise<Attempt> => {
      const started = Date.now();
      const attempt: Attempt = { writer, batch, resend, started, ended: started, status: 'network-error' };
      try {
        const res = await fetch(`${engram!.baseUrl}/v1/events`, {
          method: 'POST',
          headers: { authorization: 'Bearer key-outage', 'content-type': 'application/json' },
          body: JSON.stringify({ events }),
          signal: AbortSignal.timeout(CLIENT_ABORT_MS),
        });
        const text = await res.text();
        attempt.status = res.status;
        attempt.contentType = res.headers.get('content-type');
        attempt.body = (text.startsWith('{') ? JSON.parse(text) : { text }) as Json;
      } catch (error) {
        attempt.status = (error as Error).name === 'TimeoutError' ? 'hung' : 'network-error';
      }
      attempt.ended = Date.now();
      attempts.push(attempt);
      return attempt;
    };

    /** Sends batch after batch; a failed batch is re-sent, same event ids, until it is acknowledged. */
    const writer = async (w: number): Promise<void> => {
      for (let batch = 0; !stopping; batch++) {
        const events = COUNTERS.map((key) => ({ eventId: `w${w}-b${batch}-${key}`, type: 'CounterIncremented', namespace: NAMESPACE, key, delta: 1, actor: `writer-${w}` }));
        let attempt = await post(w, batch, false, events);
        while (attempt.status === 503) {
          await pause(PAUSE_AFTER_FAILURE_MS);
          attempt = await post(w, batch, true, events);
        }
        if (attempt.status !== 202) return; // the checks below report it
        lastToken.set(w, attempt.body!.token as string);
        batches[w] = batch + 1;
        await pause(PAUSE_AFTER_ACK_MS);
      }
    };
    const acksOf = (w: number, since: number) => attempts.filter((a) => a.writer === w && a.status === 202 && a.started >= since).length;
    const everyWriter = (check: (w: number) => boolean) => Array.from({ length: WRITERS }, (_, w) => w).every(check);
    /** Polls `check`; fails with what the writers have seen on timeout or as soon as engram exits. */
    const waitUntil = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      while (!(await check())) {
        const exited = engram!.child.exitCode !== null || engram!.child.signalCode !== null;
        if (exited || Date.now() > deadline) {
          const tally = new Map<string, number>();
          for (const a of attempts) tally.set(String(a.status), (tally.get(String(a.status)) ?? 0) + 1);
          const odd = attempts.filter((a) => a.status !== 202 && a.status !== 503).slice(0, 3);
          assert.fail(`${what}: ${exited ? 'engram exited' : `not within ${timeoutMs} ms`}; answers so far ${JSON.stringify(Object.fromEntries(tally))}; odd ones ${JSON.stringify(odd)}`);
        }
        await pause(50);
      }
    };

    const started = Date.now();
    const writing = Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
    await waitUntil(`${BATCHES_EACH_SIDE} acknowledged batches per writer`, () => everyWriter((w) => acksOf(w, started) >= BATCHES_EACH_SIDE), 30_000);

    // SIGKILL: the broker crashes with produce requests in flight.
    const killAt = Date.now();
    await broker.kill();
    const downAt = Date.now();
    // The outage lasts until every writer has seen two failures of requests sent after the kill.
    const failedWhileDown = () => attempts.filter((a) => a.started >= downAt && a.status !== 202);
    await waitUntil('two answered failures per writer after the kill', () => everyWriter((w) => failedWhileDown().filter((a) => a.writer === w).length >= 2), 60_000);
    const restartAt = Date.now();
    await broker.restart();
    const upAt = Date.now();

    await waitUntil('an acknowledged batch per writer after the restart', () => everyWriter((w) => acksOf(w, restartAt) >= 1), RECOVER_WITHIN_MS);
    const recoveredAt = Date.now();
    await waitUntil(`${BATCHES_EACH_SIDE} more acknowledged batches per writer`, () => everyWriter((w) => acksOf(w, upAt) >= BATCHES_EACH_SIDE), 30_000);
    stopping = true;
    await writing;

    // 1. Every request was answered in bounded time, with 202 or a 503 problem+json `log_unavailable`.
    const unanswered = attempts.filter((a) => typeof a.status !== 'number' || a.ended - a.started > ANSWER_WITHIN_MS);
    assert.deepEqual(unanswered.map((a) => ({ ...a, body: undefined })), [], `requests that hung or took over ${ANSWER_WITHIN_MS} ms`);
    const failed = attempts.filter((a) => a.status !== 202);
    for (const a of failed) {
      assert.equal(a.status, 503, `writer ${a.writer} batch ${a.batch}: ${JSON.stringify(a.body)}`);
      assert.equal(a.contentType, 'application/problem+json');
      assert.equal(a.body?.code, 'log_unavailable', JSON.stringify(a.body));
      assert.equal(a.body?.status, 503);
      assert.equal(a.body?.retriable, true);
    }

    // 2. No request sent after the broker died and answered before it was back succeeded.
    const duringOutage = attempts.filter((a) => a.started >= downAt && a.ended <= restartAt);
    assert.ok(duringOutage.length >= 2 * WRITERS, `only ${duringOutage.length} requests fell inside the outage`);
    assert.deepEqual(duringOutage.filter((a) => a.status !== 503).map((a) => a.status), []);
    assert.ok(engram.child.exitCode === null && engram.child.signalCode === null, `engram died during the outage:\n${engramLog()}`);

    // 3. Re-sent batches are acknowledged with the same event ids, each accepted or duplicate.
    const acked = attempts.filter((a) => a.status === 202);
    for (const a of acked) {
      const results = a.body!.results as Json[];
      assert.deepEqual(results.map((r) => r.eventId), COUNTERS.map((key) => `w${a.writer}-b${a.batch}-${key}`));
      const allowed = a.resend ? ['accepted', 'duplicate'] : ['accepted'];
      for (const r of results) assert.ok(allowed.includes(r.status as string), `writer ${a.writer} batch ${a.batch} (resend ${a.resend}): ${String(r.status)}`);
    }

    // 4. Every acknowledged event is applied exactly once: counter values, versions and histories.
    for (const token of lastToken.values()) {
      const read = () => api('GET', `/v1/memories/${NAMESPACE}/c0?consistentWith=${token}`).then((r) => r.status === 200, () => false);
      await waitUntil('the projection reaching the last acknowledged batches', read, 60_000);
    }
    const appliedAt = Date.now();
    const totalBatches = batches.reduce((a, b) => a + b, 0);
    for (const key of COUNTERS) {
      const state = await api<Json>('GET', `/v1/memories/${NAMESPACE}/${key}`);
      assert.equal(state.status, 200);
      assert.equal(state.body.value, totalBatches, `${key}: every acknowledged increment counted once`);
      assert.equal(state.body.version, totalBatches, `${key}: one applied event per acknowledged batch`);
      const history: Json[] = [];
      for (let cursor: string | undefined, page = 0; page === 0 || cursor !== undefined; page++) {
        const res = await api<Json>('GET', `/v1/memories/${NAMESPACE}/${key}/history?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        assert.equal(res.status, 200);
        history.push(...(res.body.entries as Json[]));
        cursor = res.body.cursor as string | undefined;
      }
      const ids = history.map((e) => (e.event as Json).eventId as string).sort();
      const expected = batches.flatMap((n, w) => Array.from({ length: n }, (_, b) => `w${w}-b${b}-${key}`)).sort();
      assert.deepEqual(ids, expected, `${key}: history holds each acknowledged event id once`);
      assert.deepEqual([...new Set(history.map((e) => (e.outcome as Json).status))], ['applied']);
    }

    const latencies = failed.map((a) => a.ended - a.started);
    const healthy = acked.filter((a) => a.ended < killAt).map((a) => a.ended - a.started);
    const firstFailure = Math.min(...failed.filter((a) => a.ended >= killAt).map((a) => a.ended));
    t.diagnostic(`202 latency before the kill: median ${ms(percentile(healthy, 0.5))}, p95 ${ms(percentile(healthy, 0.95))}`);
    t.diagnostic(`broker SIGKILLed ${ms(downAt - killAt)} after the signal; first 503 ${ms(firstFailure - downAt)} after it died`);
    t.diagnostic(`503s: ${failed.length} (${duringOutage.length} wholly inside the outage), latency min ${ms(Math.min(...latencies))} median ${ms(percentile(latencies, 0.5))} max ${ms(Math.max(...latencies))}`);
    t.diagnostic(`outage ${ms(upAt - downAt)} (restart took ${ms(upAt - restartAt)}); every writer acknowledged again ${ms(recoveredAt - upAt)} after the broker served`);
    t.diagnostic(`${totalBatches} batches (${totalBatches * COUNTERS.length} events) acknowledged, ${acked.filter((a) => a.resend).length} of them after a re-send; all applied ${ms(appliedAt - recoveredAt)} after recovery`);
    passed = true;
  } finally {
    if (!passed && engram) t.diagnostic(`engram's last log lines:\n${engramLog()}`);
    const code = engram ? await engram.stop() : null;
    removeDataDir(dataDir);
    await broker?.cleanup();
    // Checked last, so a failure above is not hidden behind this one.
    if (passed) assert.equal(code, 0, `engram shuts down cleanly on SIGTERM after the outage:\n${engramLog()}`);
  }
});
