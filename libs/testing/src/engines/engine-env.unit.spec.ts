import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { engineEnv, parseEngineEnvFile } from './engine-env.js';
import { enginesRequired, requireEngine, withEngine, type SkippableTest } from './require-engine.js';

/** A stand-in for node's TestContext that records the skip reason. */
function fakeTest(): SkippableTest & { skipped: string[] } {
  const skipped: string[] = [];
  return { skipped, skip: (reason?: string) => void skipped.push(reason ?? '') };
}

describe('engine env helpers', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-'));
  const envFile = path.join(dir, 'env');
  fs.writeFileSync(
    envFile,
    [
      '# Written by scripts/engines',
      'export ENGRAM_KAFKA_BROKERS=127.0.0.1:19092',
      'export ENGRAM_SCHEMA_REGISTRY_URL="http://127.0.0.1:18081/apis/ccompat/v7"',
      '',
      'not a setting',
    ].join('\n'),
  );
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('parses export lines, unquotes values and ignores comments and other lines', () => {
    assert.deepEqual(parseEngineEnvFile("# c\nexport A=1\nB='two words'\n  export C=\"x=y\"\njunk\n"), { A: '1', B: 'two words', C: 'x=y' });
  });

  it('overlays non-empty ENGRAM_* process variables on the file, and ignores other variables', () => {
    const env = engineEnv({ envFile, processEnv: { ENGRAM_KAFKA_BROKERS: 'elsewhere:9092', ENGRAM_REDIS_URL: '', PATH: '/bin' } });
    assert.deepEqual(env, { ENGRAM_KAFKA_BROKERS: 'elsewhere:9092', ENGRAM_SCHEMA_REGISTRY_URL: 'http://127.0.0.1:18081/apis/ccompat/v7' });
  });

  it('reads no settings when engines:up never ran', () => {
    assert.deepEqual(engineEnv({ envFile: path.join(dir, 'missing'), processEnv: {} }), {});
  });

  it('requireEngine returns the setting and does not skip when the engine is there', () => {
    const t = fakeTest();
    assert.equal(requireEngine(t, 'kafka', 'ENGRAM_KAFKA_BROKERS', { envFile, processEnv: {} }), '127.0.0.1:19092');
    assert.deepEqual(t.skipped, []);
  });

  it('requireEngine skips with a reason naming the engine and its setting when it is absent', () => {
    const t = fakeTest();
    assert.equal(requireEngine(t, 'redis', 'ENGRAM_REDIS_URL', { envFile, processEnv: {} }), undefined);
    assert.equal(t.skipped.length, 1);
    assert.match(t.skipped[0] ?? '', /redis engine not available: ENGRAM_REDIS_URL is not set .*engines:up/);
  });

  it('requireEngine fails, naming the engine, under ENGRAM_REQUIRE_ENGINES=1', () => {
    const t = fakeTest();
    const processEnv = { ENGRAM_REQUIRE_ENGINES: '1' };
    assert.equal(enginesRequired({ processEnv }), true);
    assert.throws(() => requireEngine(t, 'redis', 'ENGRAM_REDIS_URL', { envFile, processEnv }), /redis engine not available.*ENGRAM_REQUIRE_ENGINES=1 requires it/);
    assert.deepEqual(t.skipped, []);
  });

  // withEngine declares its suite at load time, like describe; here the engine "is there".
  withEngine('kafka suite', 'kafka', 'ENGRAM_KAFKA_BROKERS', (brokers) => {
    it('withEngine hands the setting to the suite it declares', () => {
      assert.equal(brokers, '127.0.0.1:19092');
    });
  }, { envFile, processEnv: {} });
});
