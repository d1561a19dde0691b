/**
 * What BM25 ranking (./keyword-search.ts) reads from a keyword index, whichever stores it. Postings
 * are handed to a callback rather than returned, so an in-process index allocates nothing per
 * posting.
 */
import type { PartitionStats } from './keyword-keys.js';

/** Called with one posting: the document, the term's occurrences in it, the document's length. */
export type PostingVisitor = (entityId: string, tf: number, len: number) => void;

export interface KeywordPostings {
  /** The tenant's indexed documents and the sum of their lengths. */
  corpus(tenant: string): Promise<PartitionStats>;
  /** Documents of the tenant that hold `term`. */
  df(tenant: string, term: string): Promise<number>;
  /**
   * Visits the term's postings: all of them when there are at most `max`, else the first `max` in
   * entity-id order (code units).
   */
  scan(tenant: string, term: string, max: number, visit: PostingVisitor): Promise<void>;
  /** Visits the postings of `term` in those of `entityIds` that hold it. */
  lookup(tenant: string, term: string, entityIds: string[], visit: PostingVisitor): Promise<void>;
}
