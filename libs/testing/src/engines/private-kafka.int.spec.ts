/**
 * The private broker helper: where it finds Kafka, how it skips or fails without it, and one real
 * broker's life (start, graceful stop, restart on the same port and data dir, cleanup).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findKafkaHome, probeKafkaBroker, requireKafkaHome, startPrivateKafka } from './private-kafka.js';

describe('private kafka broker', () => {
  const roots: string[] = [];
  const fakeRepo = (dirs: string[]): string => {
    const root = mkdtempSync(join(tmpdir(), 'engram-kafka-home-'));
    roots.push(root);
    for (const dir of dirs) mkdirSync(join(root, '.engines', 'cache', dir), { recursive: true });
    return root;
  };
  after(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })));

  it('finds the newest cached Kafka that has its lib folder', () => {
    const root = fakeRepo(['kafka-3.8.0/lib', 'kafka-3.10.1/lib', 'kafka-3.11.0', 'apicurio-registry-3.0.9/lib']);
    assert.equal(findKafkaHome(root), join(root, '.engines', 'cache', 'kafka-3.10.1'));
    assert.equal(findKafkaHome(fakeRepo([])), undefined);
  });

  it('skips with the reason without cached jars, and fails instead under ENGRAM_REQUIRE_ENGINES=1', () => {
    const repoRoot = fakeRepo(['apicurio-registry-3.0.9/lib']);
    const skipped: string[] = [];
    const t = { skip: (message?: string) => void skipped.push(message ?? '') };
    assert.equal(requireKafkaHome(t, { repoRoot, processEnv: {} }), undefined);
    assert.match(skipped[0] ?? '', /no Kafka jars under \.engines\/cache\/kafka-\*\/lib.*engines:up/);
    assert.throws(() => requireKafkaHome(t, { repoRoot, processEnv: { ENGRAM_REQUIRE_ENGINES: '1' } }), /ENGRAM_REQUIRE_ENGINES=1 requires it/);
    assert.equal(skipped.length, 1);
  });

  it('starts a broker, stops it, restarts it on the same port and data dir, and cleans up', async (t) => {
    const kafkaHome = requireKafkaHome(t);
    if (kafkaHome === undefined) return;
    const kafka = await startPrivateKafka({ kafkaHome });
    try {
      const [host, port] = kafka.brokers.split(':');
      assert.equal(Number(port), kafka.port);
      assert.ok(kafka.running);
      await probeKafkaBroker(host!, kafka.port);
      const meta = readFileSync(join(kafka.dataDir, 'data', 'meta.properties'), 'utf8');

      await kafka.stop();
      assert.equal(kafka.running, false);
      await assert.rejects(probeKafkaBroker(host!, kafka.port), /ECONNREFUSED/);

      await kafka.restart();
      assert.ok(kafka.running);
      await probeKafkaBroker(host!, kafka.port);
      assert.equal(readFileSync(join(kafka.dataDir, 'data', 'meta.properties'), 'utf8'), meta, 'same formatted data dir');
    } finally {
      await kafka.cleanup();
    }
    assert.equal(kafka.running, false);
    assert.equal(existsSync(kafka.dataDir), false);
  });
});
