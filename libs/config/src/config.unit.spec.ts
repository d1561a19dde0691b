import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { configTable, loadConfig } from './config.js';

describe('config', () => {
  it('has defaults for everything and validates at load', () => {
    const config = loadConfig({});
    assert.equal(config.port, 8080);
    assert.equal(config.log, 'embedded');
    assert.equal(config.limits.maxBodyBytes, 1_048_576);
    assert.throws(() => loadConfig({ ENGRAM_PORT: 'eighty' }), { code: 'invalid_setting' });
    assert.throws(() => loadConfig({ ENGRAM_LOG: 'rabbitmq' }), { code: 'invalid_setting' });
    assert.throws(() => loadConfig({ ENGRAM_PROT: '1' }), { code: 'unknown_setting' });
    assert.throws(() => loadConfig({ ENGRAM_LOG: 'kafka' }), { code: 'missing_setting' });
    assert.throws(() => loadConfig({ ENGRAM_API_KEYS: 'nokey' }), { code: 'invalid_setting' });
    assert.deepEqual(loadConfig({ ENGRAM_API_KEYS: 'a:k1, b:k2' }).apiKeys, [{ tenant: 'a', key: 'k1' }, { tenant: 'b', key: 'k2' }]);
    assert.deepEqual(loadConfig({ ENGRAM_VECTOR_DIMS: 'image:512,audio:128' }).limits.vectorDims, { image: 512, audio: 128 });
    assert.throws(() => loadConfig({ ENGRAM_VECTOR_DIMS: 'text:10' }), { code: 'invalid_setting' });
    assert.equal(loadConfig({}).keywordIndex, 'auto');
    assert.equal(loadConfig({ ENGRAM_KV: 'tikv', ENGRAM_TIKV_PD: 'pd:2379', ENGRAM_KEYWORD_INDEX: 'kv' }).keywordIndex, 'kv');
    assert.throws(() => loadConfig({ ENGRAM_KV: 'tikv', ENGRAM_TIKV_PD: 'pd:2379', ENGRAM_KEYWORD_INDEX: 'memory' }), { code: 'conflicting_settings' });
    assert.throws(() => loadConfig({ ENGRAM_KEYWORD_INDEX: 'lucene' }), { code: 'invalid_setting' });
  });

  it('takes ENGRAM_PROJECTION_BATCH_MAX as auto or a batch size', () => {
    assert.equal(loadConfig({}).projectionBatchMax, 'auto');
    assert.equal(loadConfig({ ENGRAM_PROJECTION_BATCH_MAX: '300' }).projectionBatchMax, 300);
    assert.throws(() => loadConfig({ ENGRAM_PROJECTION_BATCH_MAX: '0' }), { code: 'invalid_setting' });
    assert.throws(() => loadConfig({ ENGRAM_PROJECTION_BATCH_MAX: 'big' }), { code: 'invalid_setting' });
  });

  it('README.md shows exactly the current configuration table', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const m = /<!-- config-table:start[^>]*-->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(readme);
    assert.ok(m, 'README.md has the config-table markers');
    assert.equal(m[1], configTable());
  });
});
