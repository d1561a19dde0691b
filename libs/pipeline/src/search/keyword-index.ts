/**
 * The keyword (BM25) index stored in the KvStore port, so it runs unchanged on any KV backend (the
 * default with TiKV; ENGRAM_KEYWORD_INDEX=kv). The projection asks {@link planKeywordUpdate} for the
 * ops that keep the index in step with the entities it changes and puts them in its own atomic
 * batch; the query side ranks with searchKeyword over {@link kvKeywordPostings}.
 * Key layout and value encodings: ./keyword-keys.ts.
 */
import { ValidationError } from '@engram/core';
import type { KvEntry, KvOp, KvStore } from '@engram/ports';
import { termFrequencies } from './tokenizer.js';
import {
  assertTenant, decodeCount, decodePosting, decodeStats, dfKey, dfPrefix, encodeCount, encodePosting,
  encodeStats, inconsistent, postingKey, postingPrefix, statsKey, statsPrefix,
} from './keyword-keys.js';
import type { PartitionStats } from './keyword-keys.js';
import type { KeywordPostings } from './keyword-postings.js';
import { compare } from './keyword-search.js';

/** Page size of the prefix scans. */
const PAGE = 1000;

/** One entity's text change, as the projection applies it. */
export interface KeywordChange {
  /** `${tenant}|${namespace}|${key}`. */
  entityId: string;
  tenant: string;
  /** Log partition of the entity; its counters are owned by that partition's single writer. */
  partition: number;
  /** Text indexed so far; undefined if the entity had none (or did not exist). */
  before?: string;
  /** Text to index now; undefined if the text was removed or the entity deleted. */
  after?: string;
}

/**
 * The KvOps that move the keyword index from every change's `before` to its `after` text: postings
 * put/deleted, per-partition document frequencies and stats read with one `getMany` and rewritten
 * with the whole batch's aggregated deltas (a counter that falls to zero is deleted, so removing
 * every document leaves no `kw|` key behind). The ops come out in key order (counters, postings term
 * by term, stats): a batch's postings land all over the B-tree, and LMDB inserts sorted keys faster.
 *
 * Contract: call it once per atomic batch, with each entity at most once, and write the returned
 * ops before planning the next batch — the counters are read-modify-written, which is safe because
 * one writer owns a partition. `before` must be exactly the text indexed earlier (the projection's
 * stored state); a counter that would go negative means it was not, and is reported as
 * `keyword_index_inconsistent` rather than silently clamped.
 */
export async function planKeywordUpdate(kv: KvStore, changes: KeywordChange[]): Promise<KvOp[]> {
  /** tenant → term → what changes for it. */
  const byTenant = new Map<string, Map<string, TermChange>>();
  const statsDeltas = new Map<string, PartitionStats>();
  const seen = new Set<string>();
  for (const change of changes) {
    assertChange(change, seen);
    const { entityId, tenant, partition } = change;
    let terms = byTenant.get(tenant);
    if (!terms) byTenant.set(tenant, (terms = new Map()));
    const before = termFrequencies(change.before);
    const after = termFrequencies(change.after);
    for (const term of before.tf.keys()) {
      if (after.tf.has(term)) continue;
      const c = termChangeOf(terms, term);
      c.postings.push({ entityId, value: undefined });
      c.df.set(partition, (c.df.get(partition) ?? 0) - 1);
    }
    for (const [term, tf] of after.tf) {
      const old = before.tf.get(term);
      // Every posting carries the document length, so a length change rewrites all of them.
      if (old !== undefined && old === tf && before.len === after.len) continue;
      const c = termChangeOf(terms, term);
      c.postings.push({ entityId, value: encodePosting({ tf, len: after.len }) });
      if (old === undefined) c.df.set(partition, (c.df.get(partition) ?? 0) + 1);
    }
    const key = statsKey(tenant, partition);
    const delta = statsDeltas.get(key) ?? { docs: 0, totalLen: 0 };
    delta.docs += (after.len > 0 ? 1 : 0) - (before.len > 0 ? 1 : 0);
    delta.totalLen += after.len - before.len;
    statsDeltas.set(key, delta);
  }

  const dfChanged: Array<[string, number]> = [];
  const postingOps: KvOp[] = [];
  // The default sort orders strings by UTF-16 code units, as `compare` does, without a callback.
  for (const tenant of [...byTenant.keys()].sort()) {
    const terms = byTenant.get(tenant)!;
    for (const term of [...terms.keys()].sort()) {
      const { postings, df } = terms.get(term)!;
      for (const [partition, delta] of df) if (delta !== 0) dfChanged.push([dfKey(tenant, term, partition), delta]);
      if (postings.length > 1) postings.sort((a, b) => compare(a.entityId, b.entityId));
      for (const { entityId, value } of postings) {
        const key = postingKey(tenant, term, entityId);
        postingOps.push(value === undefined ? { type: 'del', key } : { type: 'put', key, value });
      }
    }
  }
  const statsChanged = [...statsDeltas].filter(([, d]) => d.docs !== 0 || d.totalLen !== 0).sort((a, b) => compare(a[0], b[0]));
  const current = await kv.getMany([...dfChanged.map(([key]) => key), ...statsChanged.map(([key]) => key)]);
  const ops: KvOp[] = [];
  dfChanged.forEach(([key, delta], i) => {
    const df = decodeCount(key, current[i]) + delta;
    if (df < 0) throw inconsistent(`document frequency would become ${df} at ${key}`, { key, df });
    ops.push(df === 0 ? { type: 'del', key } : { type: 'put', key, value: encodeCount(df) });
  });
  for (const op of postingOps) ops.push(op);
  statsChanged.forEach(([key, delta], i) => {
    const stored = decodeStats(key, current[dfChanged.length + i]);
    const next = { docs: stored.docs + delta.docs, totalLen: stored.totalLen + delta.totalLen };
    // A document has at least one token, so docs and totalLen are zero together or not at all.
    if (next.docs < 0 || next.totalLen < 0 || (next.docs === 0) !== (next.totalLen === 0)) {
      throw inconsistent(`partition stats would become ${JSON.stringify(next)} at ${key}`, { key, ...next });
    }
    ops.push(next.docs === 0 ? { type: 'del', key } : { type: 'put', key, value: encodeStats(next) });
  });
  return ops;
}

/** One term's share of a batch: postings to put (value) or delete (undefined), df delta per partition. */
interface TermChange {
  postings: Array<{ entityId: string; value: Buffer | undefined }>;
  df: Map<number, number>;
}

function termChangeOf(terms: Map<string, TermChange>, term: string): TermChange {
  let change = terms.get(term);
  if (!change) terms.set(term, (change = { postings: [], df: new Map() }));
  return change;
}

/**
 * The postings of the KV index, for searchKeyword (./keyword-search.ts): N and the lengths summed over
 * the partitions' stats, df summed over the partitions' counters, postings read by prefix scans a page
 * at a time and by point look-ups.
 */
export function kvKeywordPostings(kv: KvStore): KeywordPostings {
  return {
    async corpus(tenant) {
      const total = { docs: 0, totalLen: 0 };
      for await (const page of scanPrefix(kv, statsPrefix(tenant))) {
        for (const { key, value } of page) {
          const stats = decodeStats(key, value);
          total.docs += stats.docs;
          total.totalLen += stats.totalLen;
        }
      }
      return total;
    },
    async df(tenant, term) {
      let df = 0;
      for await (const page of scanPrefix(kv, dfPrefix(tenant, term))) {
        for (const { key, value } of page) df += decodeCount(key, value);
      }
      return df;
    },
    async scan(tenant, term, max, visit) {
      const prefix = postingPrefix(tenant, term);
      for await (const page of scanPrefix(kv, prefix, max)) {
        for (const { key, value } of page) {
          const { tf, len } = decodePosting(key, value);
          visit(key.slice(prefix.length), tf, len);
        }
      }
    },
    async lookup(tenant, term, entityIds, visit) {
      const keys = entityIds.map((id) => postingKey(tenant, term, id));
      (await kv.getMany(keys)).forEach((value, i) => {
        if (value === undefined) return;
        const { tf, len } = decodePosting(keys[i]!, value);
        visit(entityIds[i]!, tf, len);
      });
    },
  };
}

/** The entries under `prefix` (at most `max`), a page at a time: one await per page, not per entry. */
async function* scanPrefix(kv: KvStore, prefix: string, max = Infinity): AsyncGenerator<KvEntry[]> {
  let after: string | undefined;
  let seen = 0;
  while (seen < max) {
    const page = await kv.scan({ prefix, after, limit: Math.min(PAGE, max - seen) });
    yield page.entries;
    seen += page.entries.length;
    if (page.cursor === undefined || page.entries.length === 0) return;
    after = page.cursor;
  }
}

function assertChange(change: KeywordChange, seen: Set<string>): void {
  assertTenant(change.tenant);
  if (!change.entityId.startsWith(`${change.tenant}|`)) {
    throw new ValidationError('keyword_tenant_mismatch', `entity ${change.entityId} is not in tenant ${change.tenant}`);
  }
  if (!Number.isSafeInteger(change.partition) || change.partition < 0) {
    throw new ValidationError('invalid_partition', `partition must be a non-negative integer, got ${change.partition}`);
  }
  if (seen.has(change.entityId)) {
    throw new ValidationError('duplicate_keyword_change', `entity ${change.entityId} appears twice in one keyword update`);
  }
  seen.add(change.entityId);
}
