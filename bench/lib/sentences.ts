/**
 * English-like sentences of a given length in WordPiece tokens, for the embedder benchmark. Words
 * come from a seeded PRNG over a fixed list of common words (each one word piece in MiniLM's
 * vocabulary, as most everyday words are), so every run, and every machine, embeds the same texts,
 * and no two texts are equal.
 */
import { createRandom } from './vectors.js';

const WORDS = (
  'the a of to and in is it that for on with as was at by be this from or have an they which one you ' +
  'were her all she there would their we him been has when who will more no if out so said what up its ' +
  'about into than them can only other new some could time these two may then do first any my now such ' +
  'like our over man me even most made after also did many before must through back years where much your ' +
  'way well down should because each just those people how too little state good very make world still own ' +
  'see men work long get here between both life being under never day same another know while last might us ' +
  'great old year off come since against go came right used take three agent memory event log deploy disk ' +
  'server search query index vector cluster failure error report team release version customer order price ' +
  'market revenue europe city train station noon cat mat house water food school family music story'
).split(' ');

export interface SentenceOptions {
  count: number;
  /** Target length in tokens, counting the [CLS] and [SEP] markers. */
  tokens: number;
  seed: number;
  /** Tokens of a text, markers included: the model's own tokenizer. */
  countTokens(text: string): number;
}

/** `count` distinct texts of `tokens` tokens or the first word past it (every listed word is one piece). */
export function sentences(options: SentenceOptions): string[] {
  const random = createRandom(options.seed);
  const texts: string[] = [];
  const seen = new Set<string>();
  while (texts.length < options.count) {
    const words: string[] = [];
    // Start close to the target (one piece per word, two markers), then top up word by word.
    for (let i = 0; i < options.tokens - 3; i++) words.push(WORDS[Math.floor(random() * WORDS.length)] as string);
    let text = words.join(' ');
    while (options.countTokens(text) < options.tokens) text += ` ${WORDS[Math.floor(random() * WORDS.length)] as string}`;
    if (seen.has(text)) continue;
    seen.add(text);
    texts.push(text);
  }
  return texts;
}
