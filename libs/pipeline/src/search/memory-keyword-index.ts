/**
 * The in-process keyword index, the embedded default (ENGRAM_KEYWORD_INDEX=memory): per tenant, a
 * map from term to the documents holding it (with the term's frequency), each document's length and
 * terms, and the tenant's total length — so N, df and the average length are exact and every update
 * costs a few array appends instead of ~40 scattered KV writes (docs/decisions.md, "The keyword
 * index lives in memory on one machine").
 *
 * Layout: each indexed text is a document with a number, given in increasing order; a term's
 * postings are two parallel arrays (document numbers, ascending, and the term's frequency in each).
 * Replacing or removing a text only marks its document dead (and gives a new text a new number);
 * a term's arrays drop their dead entries once they are the majority, and the document numbers are
 * reassigned, order kept, once dead documents are. Appending to a small-integer array costs a
 * fraction of inserting an entity id into a per-term Map, which took ~1 µs per posting at 600,000
 * postings (bench/results/pipeline.md, "Session 10"), and a posting takes 8 bytes, not ~50.
 *
 * It holds no state of its own on disk: the keyword indexer (projection/keyword-indexer.ts) fills it
 * from the KV projection's states at start and follows the projection from there.
 */
import { ValidationError } from '@engram/core';
import { assertTenant } from './keyword-keys.js';
import type { KeywordPostings, PostingVisitor } from './keyword-postings.js';
import { compare } from './keyword-search.js';
import { termFrequencies } from './tokenizer.js';

export interface MemoryKeywordIndex {
  /** Indexes `text` as the entity's document, replacing the one it had; undefined removes it. */
  set(entityId: string, text: string | undefined): void;
  /** What searchKeyword reads. */
  readonly postings: KeywordPostings;
  /** What the index holds: live documents and postings, and the entries of dead documents not yet compacted away. */
  size(): { tenants: number; docs: number; terms: number; postings: number; dead: number };
}

export interface MemoryKeywordIndexOptions {
  /** Dead entries (of a term, or documents of a tenant) tolerated before a compaction, at least. @default 64 */
  minDeadToCompact?: number;
}

/** One term's postings: document numbers (ascending) and the term's frequency in each. */
interface PostingList {
  docs: number[];
  tfs: number[];
  /** Entries whose document is live. */
  live: number;
}

interface TenantIndex {
  /** Entity id → the number of its live document. */
  docOf: Map<string, number>;
  /** By document number: entity id, length (-1 once dead), distinct terms (undefined once dead). */
  ids: string[];
  lens: number[];
  terms: Array<string[] | undefined>;
  postings: Map<string, PostingList>;
  totalLen: number;
}

export function createMemoryKeywordIndex(options: MemoryKeywordIndexOptions = {}): MemoryKeywordIndex {
  const minDead = options.minDeadToCompact ?? 64;
  const tenants = new Map<string, TenantIndex>();

  const isLive = (t: TenantIndex, doc: number): boolean => t.lens[doc]! >= 0;
  /** Compact once dead entries are at least `minDead` and outnumber the live ones. */
  const worthCompacting = (dead: number, live: number): boolean => dead >= minDead && dead > live;

  /** Drops a term's entries of dead documents once they outnumber the live ones. */
  const compactList = (t: TenantIndex, list: PostingList): void => {
    if (!worthCompacting(list.docs.length - list.live, list.live)) return;
    rewrite(list, (doc) => (isLive(t, doc) ? doc : -1));
  };

  /**
   * Once dead documents outnumber the live ones: renumbers the live documents from 0, in the same
   * order (so every term's numbers stay ascending), and rewrites every term's arrays.
   */
  const compactDocs = (t: TenantIndex): void => {
    if (!worthCompacting(t.ids.length - t.docOf.size, t.docOf.size)) return;
    const renumber = new Int32Array(t.ids.length).fill(-1);
    const ids: string[] = [];
    const lens: number[] = [];
    const terms: Array<string[] | undefined> = [];
    for (let i = 0; i < t.ids.length; i++) {
      if (t.lens[i]! < 0) continue;
      renumber[i] = ids.length;
      ids.push(t.ids[i]!);
      lens.push(t.lens[i]!);
      terms.push(t.terms[i]);
    }
    for (const list of t.postings.values()) rewrite(list, (doc) => renumber[doc]!);
    for (const [id, doc] of t.docOf) t.docOf.set(id, renumber[doc]!);
    t.ids = ids;
    t.lens = lens;
    t.terms = terms;
  };

  const remove = (t: TenantIndex, entityId: string, doc: number): void => {
    for (const term of t.terms[doc]!) {
      const list = t.postings.get(term)!;
      list.live--;
      if (list.live === 0) t.postings.delete(term);
      else compactList(t, list);
    }
    t.totalLen -= t.lens[doc]!;
    t.lens[doc] = -1;
    t.terms[doc] = undefined;
    t.docOf.delete(entityId);
  };

  const visitDoc = (t: TenantIndex, doc: number, tf: number, visit: PostingVisitor): void => visit(t.ids[doc]!, tf, t.lens[doc]!);

  /**
   * Visits the postings of `list` in those of `entityIds` that hold the term: their live documents
   * in ascending order, found in the list's ascending numbers by one forward pass that gallops (a
   * common term's list is long, the entities a fraction of it).
   */
  const visitIn = (t: TenantIndex, list: PostingList, entityIds: string[], visit: PostingVisitor): void => {
    const wanted: number[] = [];
    for (const entityId of entityIds) {
      const doc = t.docOf.get(entityId);
      if (doc !== undefined) wanted.push(doc);
    }
    wanted.sort((a, b) => a - b);
    let from = 0;
    for (const doc of wanted) {
      from = gallop(list.docs, doc, from);
      if (from === list.docs.length) return;
      if (list.docs[from] === doc) visitDoc(t, doc, list.tfs[from]!, visit);
    }
  };

  const postings: KeywordPostings = {
    async corpus(tenant) {
      const t = tenants.get(tenant);
      return { docs: t?.docOf.size ?? 0, totalLen: t?.totalLen ?? 0 };
    },
    async df(tenant, term) {
      return tenants.get(tenant)?.postings.get(term)?.live ?? 0;
    },
    async scan(tenant, term, max, visit) {
      const t = tenants.get(tenant);
      const list = t?.postings.get(term);
      if (!t || !list) return;
      const { docs, tfs } = list;
      if (list.live <= max) {
        const clean = list.live === docs.length;
        for (let i = 0; i < docs.length; i++) if (clean || isLive(t, docs[i]!)) visitDoc(t, docs[i]!, tfs[i]!, visit);
        return;
      }
      // The first `max` in entity-id order, then visited in the list's order.
      const ids: string[] = [];
      for (const doc of docs) if (isLive(t, doc)) ids.push(t.ids[doc]!);
      ids.sort(compare).length = max;
      visitIn(t, list, ids, visit);
    },
    async lookup(tenant, term, entityIds, visit) {
      const t = tenants.get(tenant);
      const list = t?.postings.get(term);
      if (t && list) visitIn(t, list, entityIds, visit);
    },
  };

  return {
    postings,
    set(entityId, text) {
      const tenant = tenantOf(entityId);
      const { tf, len } = termFrequencies(text);
      let t = tenants.get(tenant);
      const old = t?.docOf.get(entityId);
      if (old !== undefined) remove(t!, entityId, old);
      if (len > 0) {
        if (!t) tenants.set(tenant, (t = { docOf: new Map(), ids: [], lens: [], terms: [], postings: new Map(), totalLen: 0 }));
        const doc = t.ids.length;
        t.ids.push(entityId);
        t.lens.push(len);
        t.terms.push([...tf.keys()]);
        t.docOf.set(entityId, doc);
        t.totalLen += len;
        for (const [term, n] of tf) {
          let list = t.postings.get(term);
          if (!list) t.postings.set(term, (list = { docs: [], tfs: [], live: 0 }));
          list.docs.push(doc);
          list.tfs.push(n);
          list.live++;
        }
      }
      if (t && t.docOf.size === 0) tenants.delete(tenant);
      else if (t && old !== undefined) compactDocs(t);
    },
    size() {
      let docs = 0;
      let terms = 0;
      let count = 0;
      let dead = 0;
      for (const t of tenants.values()) {
        docs += t.docOf.size;
        terms += t.postings.size;
        for (const list of t.postings.values()) {
          count += list.live;
          dead += list.docs.length - list.live;
        }
      }
      return { tenants: tenants.size, docs, terms, postings: count, dead };
    },
  };
}

/** Keeps the entries of `list` whose document `renumber` maps to a number (≥ 0), under that number. */
function rewrite(list: PostingList, renumber: (doc: number) => number): void {
  const docs: number[] = [];
  const tfs: number[] = [];
  for (let i = 0; i < list.docs.length; i++) {
    const doc = renumber(list.docs[i]!);
    if (doc < 0) continue;
    docs.push(doc);
    tfs.push(list.tfs[i]!);
  }
  list.docs = docs;
  list.tfs = tfs;
}

/** The first index at or after `from` whose value in the ascending `values` is ≥ `value` (values.length if none). */
function gallop(values: number[], value: number, from: number): number {
  let step = 1;
  let hi = from;
  while (hi < values.length && values[hi]! < value) {
    from = hi + 1;
    hi += step;
    step *= 2;
  }
  hi = Math.min(hi, values.length);
  while (from < hi) {
    const mid = (from + hi) >>> 1;
    if (values[mid]! < value) from = mid + 1;
    else hi = mid;
  }
  return from;
}

/** Entity ids are `<tenant>|<namespace>|<key>` (core's encodeEntityId); the tenant never holds `|`. */
function tenantOf(entityId: string): string {
  const end = entityId.indexOf('|');
  if (end <= 0) throw new ValidationError('invalid_entity_id', `not an entity id: ${JSON.stringify(entityId)}`);
  const tenant = entityId.slice(0, end);
  assertTenant(tenant);
  return tenant;
}
