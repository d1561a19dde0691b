/**
 * A deterministic Embedder for tests and for runs without the real model (`ENGRAM_EMBEDDER=hash`).
 *
 * Feature hashing of words and adjacent word pairs: texts that share words get a positive cosine
 * similarity, texts that share none get one near zero. It understands nothing about meaning, but it
 * is fast, needs no files, and gives the same vector for the same text on every machine.
 */
import { EngramError, ValidationError } from '@engram/core';
import type { Embedder, EmbeddingModelInfo } from '../embedder.js';

export interface HashEmbedderOptions {
  /** Vector length. @default 384 (the same as MiniLM, so collections can switch between them) */
  dims?: number;
}

/** Pairs count for less than words: they only sharpen, word overlap should dominate. */
const BIGRAM_WEIGHT = 0.5;
const FNV_OFFSET = 0x811c9dc5;

/**
 * FNV-1a, 32 bits, over the UTF-8 bytes of `text`, continuing from `hash` (so a feature's prefix is
 * hashed once, not concatenated): fixed, so vectors never change between versions of Node. The
 * bytes are computed from the code points here rather than by a TextEncoder, which allocates per call.
 */
function fnv1a(text: string, hash = FNV_OFFSET): number {
  let h = hash;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    // A lone surrogate is U+FFFD in UTF-8, as TextEncoder writes it.
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) {
      h = Math.imul(h ^ c, 0x01000193) >>> 0;
    } else if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), 0x01000193) >>> 0;
      h = Math.imul(h ^ (0x80 | (c & 0x3f)), 0x01000193) >>> 0;
    } else if (c < 0x10000) {
      h = Math.imul(h ^ (0xe0 | (c >> 12)), 0x01000193) >>> 0;
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), 0x01000193) >>> 0;
      h = Math.imul(h ^ (0x80 | (c & 0x3f)), 0x01000193) >>> 0;
    } else {
      h = Math.imul(h ^ (0xf0 | (c >> 18)), 0x01000193) >>> 0;
      h = Math.imul(h ^ (0x80 | ((c >> 12) & 0x3f)), 0x01000193) >>> 0;
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), 0x01000193) >>> 0;
      h = Math.imul(h ^ (0x80 | (c & 0x3f)), 0x01000193) >>> 0;
    }
  }
  return h;
}

/** Hash states after the feature prefixes `w:` (a word) and `b:` (a pair of adjacent words). */
const WORD = fnv1a('w:');
const PAIR = fnv1a('b:');

/** murmur3's finaliser: a second, independent-looking bit source for the sign. */
function mix(hash: number): number {
  let h = hash;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Lower-cased words: runs of letters (with their combining marks) and digits, in any script. */
function tokenize(text: string): string[] {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .split(/[^\p{L}\p{M}\p{N}]+/u)
    .filter((token) => token !== '');
}

function embedOne(text: string, dims: number): Float32Array {
  const sums = new Float64Array(dims);
  const add = (hash: number, weight: number): void => {
    const slot = hash % dims;
    sums[slot] = (sums[slot] as number) + ((mix(hash) & 1) === 1 ? -weight : weight);
  };
  const tokens = tokenize(text);
  tokens.forEach((token, i) => {
    // The features are `w:<word>` and `b:<previous word> <word>`, hashed piece by piece.
    add(fnv1a(token, WORD), 1);
    if (i > 0) add(fnv1a(token, fnv1a(' ', fnv1a(tokens[i - 1] as string, PAIR))), BIGRAM_WEIGHT);
  });
  let norm = 0;
  for (const v of sums) norm += v * v;
  const out = new Float32Array(dims);
  // No words (or, improbably, features that cancel out): a fixed unit vector keeps the contract.
  if (norm === 0) {
    out[0] = 1;
    return out;
  }
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < dims; i++) out[i] = (sums[i] as number) * scale;
  return out;
}

export function createHashEmbedder(options: HashEmbedderOptions = {}): Embedder {
  const dims = options.dims ?? 384;
  if (!Number.isSafeInteger(dims) || dims < 1) throw new ValidationError('invalid_option', `dims must be a positive integer, got ${dims}`);
  const model: EmbeddingModelInfo = Object.freeze({ id: 'hash-v1', revision: '1', dims });
  let closed = false;

  return {
    model,
    async embed(texts) {
      if (closed) throw new EngramError('embedder_closed', 'the embedder is closed');
      if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) {
        throw new ValidationError('invalid_text', 'embed expects an array of strings');
      }
      return texts.map((text) => embedOne(text, dims));
    },
    async close() {
      closed = true;
    },
  };
}
