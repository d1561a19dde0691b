/**
 * The in-process keyword index, the embedded default (ENGRAM_KEYWORD_INDEX=memory): per tenant, a
 * map from term to the documents holding it (with the term's frequency), each document's length and
 * terms, and the tenant's total length — so N, df and the average length are exact and every update
 * costs a few map operations instead of ~40 scattered KV writes (docs/decisions.md, "The keyword
 * index lives in memory on one machine").
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
  /** What the index holds. */
  size(): { tenants: number; docs: number; terms: number; postings: number };
}

interface Doc {
  len: number;
  /** Distinct terms, to remove the document's postings when it changes. */
  terms: string[];
}

interface TenantIndex {
  docs: Map<string, Doc>;
  /** term → entity id → the posting: the term's occurrences in that document and its length, packed ({@link pack}). */
  postings: Map<string, Map<string, number>>;
  totalLen: number;
}

/**
 * tf and the document length in one number, so scoring a posting costs one map lookup. A text has
 * at most ENGRAM_MAX_TEXT_LENGTH (≤ 2^20) characters, so tf < 2^20 and the product stays exact.
 */
const TF_RANGE = 2 ** 20;
const pack = (tf: number, len: number): number => len * TF_RANGE + tf;

export function createMemoryKeywordIndex(): MemoryKeywordIndex {
  const tenants = new Map<string, TenantIndex>();

  const remove = (t: TenantIndex, entityId: string, doc: Doc): void => {
    for (const term of doc.terms) {
      const docs = t.postings.get(term)!;
      docs.delete(entityId);
      if (docs.size === 0) t.postings.delete(term);
    }
    t.docs.delete(entityId);
    t.totalLen -= doc.len;
  };

  const postings: KeywordPostings = {
    async corpus(tenant) {
      const t = tenants.get(tenant);
      return { docs: t?.docs.size ?? 0, totalLen: t?.totalLen ?? 0 };
    },
    async df(tenant, term) {
      return tenants.get(tenant)?.postings.get(term)?.size ?? 0;
    },
    async scan(tenant, term, max, visit) {
      const docs = tenants.get(tenant)?.postings.get(term);
      if (!docs) return;
      if (docs.size <= max) {
        for (const [entityId, posting] of docs) visitPosting(entityId, posting, visit);
        return;
      }
      const first = [...docs.keys()].sort(compare).slice(0, max);
      for (const entityId of first) visitPosting(entityId, docs.get(entityId)!, visit);
    },
    async lookup(tenant, term, entityIds, visit) {
      const docs = tenants.get(tenant)?.postings.get(term);
      if (!docs) return;
      for (const entityId of entityIds) {
        const posting = docs.get(entityId);
        if (posting !== undefined) visitPosting(entityId, posting, visit);
      }
    },
  };

  return {
    postings,
    set(entityId, text) {
      const tenant = tenantOf(entityId);
      const { tf, len } = termFrequencies(text);
      let t = tenants.get(tenant);
      const old = t?.docs.get(entityId);
      if (old) remove(t!, entityId, old);
      if (len > 0) {
        if (!t) tenants.set(tenant, (t = { docs: new Map(), postings: new Map(), totalLen: 0 }));
        for (const [term, n] of tf) {
          let docs = t.postings.get(term);
          if (!docs) t.postings.set(term, (docs = new Map()));
          docs.set(entityId, pack(n, len));
        }
        t.docs.set(entityId, { len, terms: [...tf.keys()] });
        t.totalLen += len;
      }
      if (t && t.docs.size === 0) tenants.delete(tenant);
    },
    size() {
      let docs = 0;
      let terms = 0;
      let count = 0;
      for (const t of tenants.values()) {
        docs += t.docs.size;
        terms += t.postings.size;
        for (const p of t.postings.values()) count += p.size;
      }
      return { tenants: tenants.size, docs, terms, postings: count };
    },
  };
}

function visitPosting(entityId: string, posting: number, visit: PostingVisitor): void {
  visit(entityId, posting % TF_RANGE, Math.floor(posting / TF_RANGE));
}

/** Entity ids are `<tenant>|<namespace>|<key>` (core's encodeEntityId); the tenant never holds `|`. */
function tenantOf(entityId: string): string {
  const end = entityId.indexOf('|');
  if (end <= 0) throw new ValidationError('invalid_entity_id', `not an entity id: ${JSON.stringify(entityId)}`);
  const tenant = entityId.slice(0, end);
  assertTenant(tenant);
  return tenant;
}
