/**
 * The HTTP API from the outside: a real `engram start` process driven over HTTP. Covers the
 * single-node issue's acceptance lines except the crash test (crash.e2e.spec.ts). The same suite
 * runs on embedded defaults (api.e2e.spec.ts) and with the log on Kafka (api-kafka.e2e.spec.ts):
 * only the process's settings differ.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { apiClient, ns, removeDataDir, startEngramProcess, type EngramProcess } from '@engram/testing';

type Json = Record<string, unknown>;
const problemType = 'application/problem+json';

/** Declares the suite; `settings` (called when it starts) adds the mode's ENGRAM_* settings. */
export function apiSuite(mode: string, settings: () => Record<string, string> = () => ({})): void {
describe(`HTTP API v1 (engram start, ${mode})`, () => {
  let engram: EngramProcess;
  let alpha: ReturnType<typeof apiClient>;
  let beta: ReturnType<typeof apiClient>;

  before(async () => {
    engram = await startEngramProcess({ env: { ENGRAM_API_KEYS: 'alpha:key-alpha,beta:key-beta', ENGRAM_MAX_BODY_BYTES: '65536', ENGRAM_MAX_KEY_LENGTH: '64', ...settings() } });
    alpha = apiClient(engram.baseUrl, 'key-alpha');
    beta = apiClient(engram.baseUrl, 'key-beta');
  });
  after(async () => {
    const code = await engram.stop();
    removeDataDir(engram.dataDir);
    assert.equal(code, 0, 'SIGTERM shuts down cleanly');
  });

  it('writes, then reads with the consistency token', async () => {
    const put = await alpha<Json>('PUT', `/v1/memories/${ns('agents/planner')}/plan`, { value: { steps: ['a', 'b'] }, text: 'the plan for today' });
    assert.equal(put.status, 202);
    assert.equal(put.body.status, 'accepted');
    const get = await alpha<Json>('GET', `/v1/memories/${ns('agents/planner')}/plan?consistentWith=${put.body.token}`);
    assert.equal(get.status, 200);
    assert.deepEqual(get.body.value, { steps: ['a', 'b'] });
    assert.equal(get.body.version, 1);
    assert.equal(get.headers.get('etag'), '"1"');
  });

  it('keeps tenants apart in get, list, search, history and subscribe', async () => {
    const space = `iso-${Date.now()}`;
    const w = await alpha<Json>('PUT', `/v1/memories/${ns(space)}/secret?wait=applied`, { value: 'alpha only', text: 'zebra migration notes' });
    assert.equal(w.status, 200);
    const token = w.body.token as string;
    const sub = await fetch(`${engram.baseUrl}/v1/subscribe?namespacePrefix=${space}&from=v1.`, { headers: { authorization: 'Bearer key-beta' } });
    assert.equal(sub.status, 200);

    assert.equal((await beta('GET', `/v1/memories/${ns(space)}/secret?consistentWith=${token}`)).status, 404);
    const list = await beta<Json>('GET', `/v1/memories/${ns(space)}?consistentWith=${token}`);
    assert.deepEqual(list.body.items, []);
    for (const mode of ['vector', 'keyword', 'hybrid']) {
      const s = await beta<Json>('POST', '/v1/search', { query: 'zebra migration notes', mode, consistentWith: token });
      assert.equal(s.status, 200);
      assert.deepEqual(s.body.results, [], `beta sees nothing in ${mode} search`);
      const mine = await alpha<Json>('POST', '/v1/search', { query: 'zebra migration notes', mode, namespacePrefix: space, consistentWith: token });
      assert.equal((mine.body.results as Json[])[0]?.key, 'secret', `alpha finds it in ${mode} search`);
    }
    assert.equal((await beta('GET', `/v1/memories/${ns(space)}/secret/history`)).status, 404);

    // beta's subscription from the start of the changelog carries beta's own change, not alpha's.
    await beta('PUT', `/v1/memories/${ns(space)}/mine?wait=applied`, { value: 'beta only' });
    const reader = sub.body!.getReader();
    const seen = await readUntil(reader, (t) => t.includes('beta only'), 5000, () => diagnose(engram));
    await reader.cancel();
    assert.doesNotMatch(seen, /alpha only/);
  });

  it('rejects a stale If-Match and changes nothing', async () => {
    const path = `/v1/memories/${ns('cas')}/doc-${Date.now()}`;
    const first = await alpha<Json>('PUT', `${path}?wait=applied`, { value: 1 });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('etag'), '"1"');
    const second = await alpha<Json>('PUT', `${path}?wait=applied`, { value: 2 }, { 'if-match': '"1"' });
    assert.equal(second.status, 200);
    const stale = await alpha<Json>('PUT', `${path}?wait=applied`, { value: 3 }, { 'if-match': '"1"' });
    assert.equal(stale.status, 412);
    assert.equal(stale.headers.get('content-type'), problemType);
    assert.equal(stale.body.code, 'version_conflict');
    const now = await alpha<Json>('GET', path);
    assert.equal(now.body.value, 2);
    assert.equal(now.body.version, 2);
    const history = await alpha<Json>('GET', `${path}/history`);
    const outcomes = (history.body.entries as Json[]).map((e) => (e.outcome as Json).status);
    assert.deepEqual(outcomes, ['applied', 'applied', 'rejected']);
  });

  it('reports re-sent event ids as duplicates and applies them once', async () => {
    const key = `dup-${Date.now()}`;
    const events = [1, 2, 3].map((i) => ({ eventId: `${key}-e${i}`, type: 'CounterIncremented', namespace: 'dups', key, delta: 1 }));
    const first = await alpha<Json>('POST', '/v1/events', { events });
    assert.equal(first.status, 202);
    assert.deepEqual((first.body.results as Json[]).map((r) => r.status), ['accepted', 'accepted', 'accepted']);
    const again = await alpha<Json>('POST', '/v1/events?wait=applied', { events: [...events, { ...events[0]! }] });
    assert.deepEqual((again.body.results as Json[]).map((r) => r.status), ['duplicate', 'duplicate', 'duplicate', 'duplicate']);
    assert.deepEqual(
      (again.body.results as Json[]).map((r) => [r.partition, r.offset]),
      (first.body.results as Json[]).map((r) => [r.partition, r.offset]).concat([[(first.body.results as Json[])[0]!.partition, (first.body.results as Json[])[0]!.offset]]),
    );
    // Each duplicate reports the outcome of its first copy (found in that event's history).
    assert.deepEqual((again.body.results as Json[]).map((r) => r.outcome), [1, 2, 3, 1].map((version) => ({ status: 'applied', version })));
    const state = await alpha<Json>('GET', `/v1/memories/dups/${key}?consistentWith=${again.body.token}`);
    assert.equal(state.body.value, 3);
    // The same event id in another tenant is a different event.
    const other = await beta<Json>('POST', '/v1/events', { events: [events[0]] });
    assert.equal((other.body.results as Json[])[0]!.status, 'accepted');
  });

  // Exact in single-node mode only: Kafka's dedupe window is per partition (DESIGN.md section 3),
  // and another key may live in another partition.
  if (mode === 'embedded') {
    it('reports an event id reused for another key as a duplicate, with the first event`s outcome', async () => {
      const key = `reuse-${Date.now()}`;
      const first = await alpha<Json>('POST', '/v1/events?wait=applied', { events: [{ eventId: `${key}-e1`, type: 'CounterIncremented', namespace: 'dups', key, delta: 1 }] });
      assert.deepEqual((first.body.results as Json[])[0]!.outcome, { status: 'applied', version: 1 });
      const reused = await alpha<Json>('POST', '/v1/events?wait=applied', { events: [{ eventId: `${key}-e1`, type: 'CounterIncremented', namespace: 'dups', key: `${key}-other`, delta: 5 }] });
      assert.deepEqual(
        (reused.body.results as Json[]).map((r) => [r.status, r.outcome]),
        [['duplicate', { status: 'applied', version: 1 }]],
      );
      assert.equal((await alpha<Json>('GET', `/v1/memories/dups/${key}-other?consistentWith=${reused.body.token}`)).status, 404);
    });
  }

  it('sums 20 concurrent increments from 4 agents to 20', async () => {
    const key = `counter-${Date.now()}`;
    const posts = Array.from({ length: 20 }, (_, i) =>
      alpha<Json>('POST', '/v1/events', { events: [{ type: 'CounterIncremented', namespace: 'shared', key, delta: 1, actor: `agent-${i % 4}` }] }),
    );
    const results = await Promise.all(posts);
    assert.ok(results.every((r) => r.status === 202));
    const tokens = results.map((r) => r.body.token as string);
    for (const t of tokens) assert.equal((await alpha('GET', `/v1/memories/shared/${key}?consistentWith=${t}`)).status, 200);
    const final = await alpha<Json>('GET', `/v1/memories/shared/${key}`);
    assert.equal(final.body.value, 20);
    assert.equal(final.body.kind, 'counter');
    assert.equal(final.body.version, 20);
  });

  it('answers bad input with 4xx problem+json and stores nothing', async () => {
    const key = `bad-${Date.now()}`;
    const cases: Array<[string, string, unknown, number, string, Record<string, string>?]> = [
      ['malformed JSON', 'POST', '{"events": [', 400, 'invalid_json'],
      ['unknown event type', 'POST', { events: [{ type: 'MemoryExploded', namespace: 'bad', key }] }, 400, 'unknown_event_type'],
      ['oversized key', 'POST', { events: [{ type: 'MemoryWritten', namespace: 'bad', key: 'k'.repeat(65), value: 1 }] }, 413, 'limit_exceeded'],
      ['oversized body', 'POST', { events: [{ type: 'MemoryWritten', namespace: 'bad', key, value: 'x'.repeat(70_000) }] }, 413, 'body_too_large'],
      ['one bad event in a batch', 'POST', { events: [{ type: 'MemoryWritten', namespace: 'bad', key, value: 1 }, { type: 'MemoryWritten', namespace: 'bad/../x', key, value: 1 }] }, 400, 'invalid_namespace'],
      ['wrong content type', 'POST', 'events', 415, 'unsupported_media_type', { 'content-type': 'text/plain' }],
      ['empty batch', 'POST', { events: [] }, 400, 'invalid_body'],
    ];
    for (const [name, method, body, status, code, headers] of cases) {
      const res = await alpha<Json>(method, '/v1/events', body, headers);
      assert.equal(res.status, status, name);
      assert.equal(res.headers.get('content-type'), problemType, name);
      assert.equal(res.body.code, code, name);
      assert.equal(res.body.status, status, name);
    }
    const unauthorized = await apiClient(engram.baseUrl, 'nope')<Json>('GET', '/v1/memories/bad/x');
    assert.equal(unauthorized.status, 401);
    assert.equal(unauthorized.body.code, 'unauthorized');
    // Nothing of any rejected request was stored: a marker written afterwards is the only event.
    const marker = await alpha<Json>('PUT', `/v1/memories/bad/${key}?wait=applied`, { value: 'marker' });
    assert.equal(marker.status, 200);
    const history = await alpha<Json>('GET', `/v1/memories/bad/${key}/history`);
    assert.equal((history.body.entries as Json[]).length, 1);
    const listed = await alpha<Json>('GET', '/v1/memories/bad');
    assert.deepEqual((listed.body.items as Json[]).map((i) => i.key), [key]);
  });

  it('lists by prefix with a cursor, patches, deletes, and reads asOf', async () => {
    const space = `list-${Date.now()}`;
    const events = Array.from({ length: 7 }, (_, i) => ({ type: 'MemoryWritten', namespace: space, key: `item-${i}`, value: { i } }));
    const w = await alpha<Json>('POST', '/v1/events?wait=applied', { events });
    assert.equal(w.status, 200);
    const keys: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await alpha<Json>('GET', `/v1/memories/${space}?prefix=item-&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(page.status, 200);
      keys.push(...(page.body.items as Json[]).map((i) => i.key as string));
      cursor = page.body.cursor as string | undefined;
    } while (cursor);
    assert.deepEqual(keys, events.map((e) => e.key));

    const before = Date.now();
    await new Promise((r) => setTimeout(r, 5));
    const patched = await alpha<Json>('PATCH', `/v1/memories/${space}/item-0?wait=applied`, { extra: true }, { 'content-type': 'application/merge-patch+json' });
    assert.equal(patched.status, 200);
    assert.deepEqual((await alpha<Json>('GET', `/v1/memories/${space}/item-0`)).body.value, { i: 0, extra: true });
    assert.deepEqual((await alpha<Json>('GET', `/v1/memories/${space}/item-0?asOf=${before}`)).body.value, { i: 0 });
    const del = await alpha<Json>('DELETE', `/v1/memories/${space}/item-1?wait=applied`);
    assert.equal(del.status, 200);
    assert.equal((await alpha('GET', `/v1/memories/${space}/item-1`)).status, 404);
  });

  it('streams changes over SSE and resumes from a token', async () => {
    const space = `sse-${Date.now()}`;
    const res = await fetch(`${engram.baseUrl}/v1/subscribe?namespacePrefix=${space}`, { headers: { authorization: 'Bearer key-alpha' } });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const reader = res.body!.getReader();
    await alpha('PUT', `/v1/memories/${ns(`${space}/a`)}/one`, { value: 1 });
    await alpha('PUT', `/v1/memories/${ns(`${space}/a`)}/two`, { value: 2 });
    const text = await readUntil(reader, (t) => t.includes('"key":"two"'), 5000, () => diagnose(engram));
    await reader.cancel();
    const ids = [...text.matchAll(/^id: (.+)$/gm)].map((m) => m[1]!);
    assert.equal(ids.length, 2);
    const resumed = await fetch(`${engram.baseUrl}/v1/subscribe?namespacePrefix=${space}&from=${ids[0]}`, { headers: { authorization: 'Bearer key-alpha' } });
    assert.equal(resumed.status, 200);
    const r2 = resumed.body!.getReader();
    const rest = await readUntil(r2, (t) => t.includes('"key":"two"'), 5000, () => diagnose(engram));
    await r2.cancel();
    assert.doesNotMatch(rest, /"key":"one"/);
    const badToken = await alpha<Json>('GET', '/v1/subscribe?from=v1.garbage!');
    assert.equal(badToken.status, 400);
    assert.equal(badToken.body.code, 'invalid_token');
  });

  it('searches with filters', async () => {
    const space = `search-${Date.now()}`;
    const w = await alpha<Json>('POST', '/v1/events?wait=applied', {
      events: [
        { type: 'MemoryWritten', namespace: space, key: 'cat', value: 1, text: 'The cat sat on the mat', metadata: { agentId: 'a1', tags: ['pets'] } },
        { type: 'MemoryWritten', namespace: space, key: 'stock', value: 2, text: 'Quarterly stock prices rose sharply', metadata: { agentId: 'a2', tags: ['finance'] } },
        { type: 'MemoryWritten', namespace: `${space}/sub`, key: 'dog', value: 3, text: 'The dog sat on the rug', metadata: { agentId: 'a1', sessionId: 's9', tags: ['pets'] } },
      ],
    });
    assert.equal(w.status, 200);
    const search = (body: Json) => alpha<Json>('POST', '/v1/search', { namespacePrefix: space, consistentWith: w.body.token, ...body });
    const keysOf = (r: { body: Json }) => (r.body.results as Json[]).map((x) => x.key);
    assert.deepEqual(keysOf(await search({ query: 'cat mat', mode: 'keyword' })), ['cat']);
    assert.equal(keysOf(await search({ query: 'the cat sat on the mat', mode: 'vector', k: 1 }))[0], 'cat');
    assert.deepEqual(keysOf(await search({ query: 'sat', mode: 'keyword', filter: { sessionId: 's9' } })), ['dog']);
    assert.deepEqual(keysOf(await search({ query: 'sat', mode: 'keyword', filter: { tags: ['finance'] } })), []);
    // Vector search always returns the nearest matches the filter allows, however far.
    assert.deepEqual(keysOf(await search({ query: 'sat', mode: 'hybrid', filter: { tags: ['finance'] } })), ['stock']);
    assert.deepEqual(new Set(keysOf(await search({ query: 'sat', filter: { agentId: 'a1' } }))), new Set(['cat', 'dog']));
    const bad = await search({ query: 'x', k: 0 });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'invalid_field');
  });

  it('serves health, readiness, metrics and the OpenAPI document', async () => {
    assert.equal((await fetch(`${engram.baseUrl}/healthz`)).status, 200);
    const ready = await fetch(`${engram.baseUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(Object.keys(((await ready.json()) as Json).checks as Json).sort(), ['kv', 'log', 'vectors']);
    const metrics = await (await fetch(`${engram.baseUrl}/metrics`)).text();
    assert.match(metrics, /engram_events_ingested_total\{status="accepted"\} \d+/);
    const docs = (await (await fetch(`${engram.baseUrl}/docs`)).json()) as Json;
    assert.equal(docs.openapi, '3.1.0');
    assert.ok((docs.paths as Json)['/v1/search']);
  });
});
}

/** What the server can tell about a stall: its consumer lag and the warnings it logged. */
async function diagnose(engram: EngramProcess): Promise<string> {
  const metrics = await (await fetch(`${engram.baseUrl}/metrics`)).text().catch((error: Error) => `metrics: ${error.message}`);
  const lag = metrics.split('\n').filter((line) => line.startsWith('engram_consumer_lag_records{') && !line.endsWith(' 0'));
  const warnings = engram.output.filter((line) => /"level":(4|5|6)\d/.test(line)).slice(-20);
  return `consumer lag (non-zero):\n${lag.join('\n') || '(none)'}\nwarnings and errors logged:\n${warnings.join('\n') || '(none)'}`;
}

async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, done: (text: string) => boolean, timeoutMs: number, explain: () => Promise<string>): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + timeoutMs;
  while (!done(text)) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`stream did not deliver in time; got:\n${text}\n${await explain()}`);
    const chunk = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), left))]);
    if (chunk === null) continue;
    if (chunk.done) throw new Error(`stream ended; got:\n${text}`);
    text += decoder.decode(chunk.value, { stream: true });
  }
  return text;
}
