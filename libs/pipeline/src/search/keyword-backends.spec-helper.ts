/**
 * The two keyword index backends behind one test interface, so the ranking tests run against both:
 * `apply` moves the index from each change's `before` to its `after` text.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLmdbKvStore, type KvStore } from '@engram/ports';
import { kvKeywordPostings, planKeywordUpdate, type KeywordChange } from './keyword-index.js';
import type { KeywordPostings } from './keyword-postings.js';
import { createMemoryKeywordIndex, type MemoryKeywordIndex, type MemoryKeywordIndexOptions } from './memory-keyword-index.js';

export interface KeywordBackend {
  postings: KeywordPostings;
  apply(changes: KeywordChange[]): Promise<void>;
  close(): Promise<void>;
}

export interface KvKeywordBackend extends KeywordBackend {
  kv: KvStore;
}

export function openKvBackend(): KvKeywordBackend {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-'));
  const kv = createLmdbKvStore({ path: dir });
  return {
    kv,
    postings: kvKeywordPostings(kv),
    apply: async (changes) => kv.batch(await planKeywordUpdate(kv, changes)),
    async close() {
      await kv.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function openMemoryBackend(options: MemoryKeywordIndexOptions = {}): KeywordBackend & { index: MemoryKeywordIndex } {
  const index = createMemoryKeywordIndex(options);
  return {
    index,
    postings: index.postings,
    apply: async (changes) => {
      for (const change of changes) index.set(change.entityId, change.after);
    },
    close: async () => undefined,
  };
}

export const KEYWORD_BACKENDS: Array<[string, () => KeywordBackend]> = [
  ['KV (LMDB)', openKvBackend],
  ['in memory', () => openMemoryBackend()],
  // Compacts at every dead entry: each replacement rewrites arrays and renumbers documents.
  ['in memory, compacting eagerly', () => openMemoryBackend({ minDeadToCompact: 1 })],
];
