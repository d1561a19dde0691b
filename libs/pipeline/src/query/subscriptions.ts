/**
 * Subscribe: a feed of state changes under a namespace prefix, read from the `memory-state`
 * changelog. Each change carries a resume token (its position in the changelog); passing it back as
 * `from` resumes right after it. The changelog is compacted by entity id, so a long-disconnected
 * subscriber may skip intermediate versions of an entity but always gets its latest state.
 */
import { ValidationError, type MemoryState } from '@engram/core';
import { namespaceMatches, type EventLog } from '@engram/ports';
import type { PipelineCodecs } from '../codecs.js';
import { decodeToken, encodeToken, type PositionMap } from '../consistency-token.js';
import type { Signal } from '../signal.js';
import type { Topics } from '../topics.js';
import { toView, type MemoryView } from './memory-view.js';

export interface StateChange {
  token: string;
  deleted: boolean;
  memory: MemoryView;
}

export interface SubscriptionService {
  /**
   * Changes for the tenant under the prefix until `abort` fires. Without `from`, starts at the end
   * of the changelog as it is when the returned promise resolves: every change appended after that
   * is delivered (so a client that writes once it sees the stream open misses none of its writes).
   * Validates its arguments before resolving, so a bad token is an error, not an empty stream.
   */
  subscribe(tenant: string, options: { namespacePrefix?: string; from?: string; abort: AbortSignal }): Promise<AsyncGenerator<StateChange>>;
}

export function createSubscriptionService(deps: { log: EventLog; codecs: PipelineCodecs; topics: Topics; stateAppended: Signal; pollMs?: number }): SubscriptionService {
  const { log, topics } = deps;
  /** Next offset to read per partition: after the token's (which names the last delivered offset, inclusive), else the end now. */
  async function startAt(from: PositionMap | undefined): Promise<Map<number, number>> {
    const next = new Map<number, number>();
    if (from) {
      for (let p = 0; p < topics.partitions; p++) next.set(p, (from.get(p) ?? -1) + 1);
    } else {
      (await log.endOffsets(topics.state)).forEach((o, p) => next.set(p, o));
    }
    return next;
  }

  async function* changes(tenant: string, next: Map<number, number>, options: { namespacePrefix?: string; abort: AbortSignal }): AsyncGenerator<StateChange> {
      while (!options.abort.aborted) {
        let read = 0;
        for (let p = 0; p < topics.partitions && !options.abort.aborted; p++) {
          const records = await log.read(topics.state, p, next.get(p)!, 200);
          read += records.length;
          for (const r of records) {
            next.set(p, r.offset + 1);
            if (r.value === null || !r.key.startsWith(`${tenant}|`)) continue;
            const state: MemoryState = await deps.codecs.state.decode(r.value);
            if (state.tenant !== tenant || !namespaceMatches(state.namespace, options.namespacePrefix)) continue;
            const position = new Map([...next].filter(([, o]) => o > 0).map(([pp, o]) => [pp, o - 1]));
            yield { token: encodeToken(position), deleted: state.deleted, memory: toView(state) };
          }
        }
        if (read === 0) await deps.stateAppended.wait(deps.pollMs ?? 250, options.abort);
      }
  }

  return {
    async subscribe(tenant, options) {
      const from = options.from ? decodeToken(options.from) : undefined;
      for (const p of from?.keys() ?? []) {
        if (p >= topics.partitions) throw new ValidationError('invalid_token', `the token names partition ${p}, there are ${topics.partitions}`, { field: 'from' });
      }
      // The start is fixed here, before the caller tells its client the stream is open.
      return changes(tenant, await startAt(from), options);
    },
  };
}
