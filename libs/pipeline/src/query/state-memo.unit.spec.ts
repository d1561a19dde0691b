import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyEvent, hlcFromWallMs, type MemoryEvent, type MemoryState } from '@engram/core';
import { json } from '../kv-keys.js';
import { createStateMemo } from './state-memo.js';

function stateOf(key: string, value: unknown): MemoryState {
  const event = { type: 'MemoryWritten', eventId: `ev-${key}`, tenant: 'acme', namespace: 'notes', key, actor: 'a', hlc: hlcFromWallMs(Date.UTC(2024, 0, 1)), metadata: { tags: [], attributes: {} }, value } as MemoryEvent;
  return applyEvent(undefined, event, { partition: 0, offset: 1 }).state!;
}

describe('state memo', () => {
  it('parses once per distinct bytes and never serves a stale state', () => {
    const memo = createStateMemo();
    const v1 = json(stateOf('k', 1));
    const first = memo.parse('acme|notes|k', v1);
    assert.equal(first.state.value, 1);
    assert.equal(memo.parse('acme|notes|k', Buffer.from(v1)), first, 'same bytes, same object');
    const second = memo.parse('acme|notes|k', json(stateOf('k', 2)));
    assert.equal(second.state.value, 2, 'other bytes are parsed, whatever was remembered');
    assert.notEqual(second, first);
  });

  it('keeps its own copy of the bytes', () => {
    const memo = createStateMemo();
    const raw = json(stateOf('k', 'original'));
    const parsed = memo.parse('acme|notes|k', raw);
    const reused = Buffer.from(raw);
    raw.fill(0x20);
    assert.equal(memo.parse('acme|notes|k', reused), parsed, 'a caller reusing its buffer changes nothing');
  });

  it('hands back a remembered state for the bytes it was serialized to', () => {
    const memo = createStateMemo();
    const state = stateOf('k', { a: 1 });
    const raw = json(state);
    memo.remember('acme|notes|k', raw, state);
    assert.equal(memo.parse('acme|notes|k', Buffer.from(raw)).state, state);
  });

  it('stays bounded: an entry two generations old is parsed again', () => {
    const memo = createStateMemo({ maxEntries: 2 });
    const raws = ['a', 'b', 'c', 'd', 'e'].map((key) => [`acme|notes|${key}`, json(stateOf(key, key))] as const);
    const first = raws.map(([id, raw]) => memo.parse(id, raw));
    // Generations of two: a and b were dropped whole when the young one filled up twice.
    assert.notEqual(memo.parse(raws[0]![0], raws[0]![1]), first[0]);
    assert.equal(memo.parse(raws[4]![0], raws[4]![1]), first[4]);
  });
});
