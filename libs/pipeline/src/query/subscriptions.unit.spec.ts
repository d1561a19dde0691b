import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { applyEvent, encodeEntityId } from '@engram/core';
import { createLogEnv, makeEvent, type LogEnv } from '../pipeline.spec-helper.js';
import { createSignal } from '../signal.js';
import { createSubscriptionService, type StateChange } from './subscriptions.js';

describe('subscriptions', () => {
  let env: LogEnv;
  beforeEach(async () => {
    env = await createLogEnv({ partitions: 2 });
  });
  afterEach(async () => {
    await env.close();
  });

  /** Appends the state of a fresh memory `key` to `memory-state` on `partition`, as the changelog emitter does. */
  async function appendState(key: string, partition: number): Promise<void> {
    const event = makeEvent(key, { type: 'MemoryWritten', value: key });
    const { state } = applyEvent(undefined, event, { partition, offset: 0 });
    await env.log.append(env.topics.state, [{ key: encodeEntityId(event), partition, value: env.codecs.state.encode(state!) }]);
  }

  async function take(feed: AsyncGenerator<StateChange>, n: number): Promise<string[]> {
    const keys: string[] = [];
    for await (const change of feed) {
      keys.push(change.memory.key);
      if (keys.length === n) break;
    }
    return keys;
  }

  it('fixes its start when subscribe resolves: changes appended afterwards, before the first read, are delivered', async () => {
    const service = createSubscriptionService({ log: env.log, codecs: env.codecs, topics: env.topics, stateAppended: createSignal(), pollMs: 10 });
    await appendState('before', 0);
    const abort = new AbortController();
    const feed = await service.subscribe('acme', { abort: abort.signal });
    // The client writes as soon as it sees the stream open; the feed has not been read yet.
    await appendState('two', 1);
    await appendState('one', 0);
    const keys = await Promise.race([take(feed, 2), new Promise<string[]>((_, reject) => setTimeout(() => reject(new Error('changes not delivered')), 3000))]);
    abort.abort();
    assert.deepEqual(keys.sort(), ['one', 'two'], 'both changes made after subscribing, and nothing from before');
  });
});
