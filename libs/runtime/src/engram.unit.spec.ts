import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '@engram/config';
import { projectionBatchMax } from './engram.js';

describe('projection batch size', () => {
  it('is 2,000 on the projection thread and 500 on a loop shared with HTTP, unless configured', () => {
    const auto = loadConfig({});
    assert.equal(projectionBatchMax(auto, true), 2000);
    assert.equal(projectionBatchMax(auto, false), 500);
    const set = loadConfig({ ENGRAM_PROJECTION_BATCH_MAX: '300' });
    assert.equal(projectionBatchMax(set, true), 300);
    assert.equal(projectionBatchMax(set, false), 300);
  });
});
