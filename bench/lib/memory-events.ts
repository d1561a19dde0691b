/**
 * The MemoryWritten events the pipeline benchmarks send: unique keys, a JSON value of about 300
 * bytes, and optionally a text of about 20 words (text adds keyword indexing and embedding). Words
 * come from a seeded PRNG over a fixed vocabulary, plus one word unique to the event, so every text
 * is distinct and a search for it has exactly one best answer.
 */
import { createRandom } from './vectors.js';

/** HTTP input of one event, as POST /v1/events takes it. */
export interface EventInput {
  eventId: string;
  type: 'MemoryWritten';
  namespace: string;
  key: string;
  value: Record<string, unknown>;
  text?: string;
  metadata: { agentId: string; tags: string[] };
}

const SYLLABLES = ['ka', 'lo', 'mi', 'ren', 'to', 'sa', 'vel', 'dor', 'pi', 'nex', 'ul', 'bra', 'quo', 'zen', 'fa', 'gri'];

/** 2,000 pronounceable pseudo-words: a vocabulary with realistic term overlap between texts. */
const VOCABULARY: string[] = (() => {
  const random = createRandom(11);
  const words = new Set<string>();
  while (words.size < 2000) {
    const n = 2 + Math.floor(random() * 3);
    let word = '';
    for (let i = 0; i < n; i++) word += SYLLABLES[Math.floor(random() * SYLLABLES.length)];
    words.add(word);
  }
  return [...words];
})();

/** A word no other event's text contains (digits keep it out of the vocabulary and unstemmed). */
export const uniqueWord = (tag: string, i: number): string => `${tag}x${i.toString(36)}q`;

/** About 20 words: 19 from the shared vocabulary and one unique to `(tag, i)`. */
export function textFor(tag: string, i: number, seed = 5): string {
  const random = createRandom(seed * 1_000_003 + i);
  const words = Array.from({ length: 19 }, () => VOCABULARY[Math.floor(random() * VOCABULARY.length)]!);
  words.splice(Math.floor(random() * 20), 0, uniqueWord(tag, i));
  return words.join(' ');
}

export interface EventOptions {
  namespace: string;
  /** Prefix of keys and event ids, unique per benchmark run so nothing is a duplicate. */
  tag: string;
  withText: boolean;
}

/** A ~300-byte JSON value: a few fields an agent might store, padded to size deterministically. */
function valueFor(i: number): Record<string, unknown> {
  const value = { kind: 'observation', step: i, status: 'done', score: (i % 97) / 97, tags: ['bench', `group-${i % 16}`], note: '' };
  const base = JSON.stringify(value).length;
  value.note = 'n'.repeat(Math.max(0, 300 - base));
  return value;
}

export function memoryEvent(i: number, options: EventOptions): EventInput {
  const id = `${options.tag}-${i.toString().padStart(8, '0')}`;
  const event: EventInput = {
    eventId: id,
    type: 'MemoryWritten',
    namespace: options.namespace,
    key: id,
    value: valueFor(i),
    metadata: { agentId: `agent-${i % 8}`, tags: ['bench'] },
  };
  if (options.withText) event.text = textFor(options.tag, i);
  return event;
}

/** Events `first .. first+count-1`, as ready-to-send `{"events": [...]}` bodies of `batchSize`. */
export function eventBodies(first: number, count: number, batchSize: number, options: EventOptions): string[] {
  const bodies: string[] = [];
  for (let start = first; start < first + count; start += batchSize) {
    const events: EventInput[] = [];
    for (let i = start; i < Math.min(first + count, start + batchSize); i++) events.push(memoryEvent(i, options));
    bodies.push(JSON.stringify({ events }));
  }
  return bodies;
}
