/**
 * Tokenizer for keyword (BM25) search. The same function runs at index time and at query time, so
 * any change to it changes which postings a query finds: a new tokenizer means rebuilding the
 * keyword index (a replay into a new generation).
 *
 * Steps, in order:
 * 1. Unicode NFKC normalisation, then `toLowerCase()` (locale-independent), so full-width letters,
 *    ligatures and composed/decomposed accents give the same token.
 * 2. Apostrophes between two word characters are removed (`don't` → `dont`, `agent’s` → `agents`)
 *    rather than splitting, which would leave stray `t`/`s` tokens.
 * 3. A token is a run of letters, digits and combining marks (`\p{L}\p{N}\p{M}`) that starts with a
 *    letter or digit; everything else separates tokens.
 * 4. Tokens longer than {@link MAX_TOKEN_LENGTH} code points are dropped (base64 blobs, hashes).
 * 5. Stop words ({@link STOP_WORDS}, Lucene's English set) are dropped.
 * 6. Lowercase ASCII words longer than two letters are stemmed with the inflectional steps of the
 *    Porter (1980) stemmer only — 1a (plurals), 1b (-ed/-ing), 1c (final y → i) and 5 (final -e,
 *    double l). The derivational steps 2–4 are left out on purpose, so `general` and `generate` stay
 *    apart. Tokens with digits or non-ASCII letters are never stemmed (English rules would mangle
 *    other languages). Stems are index terms, not words: `memory` and `memories` both become `memori`.
 */

/** Longest token kept, in code points. */
export const MAX_TOKEN_LENGTH = 64;

/** Lucene's default English stop-word set. Small on purpose: BM25's idf already damps common words. */
export const STOP_WORDS: ReadonlySet<string> = new Set([
  'a', 'an', 'and', 'are', 'as', 'at', 'be', 'but', 'by', 'for', 'if', 'in', 'into', 'is', 'it',
  'no', 'not', 'of', 'on', 'or', 'such', 'that', 'the', 'their', 'then', 'there', 'these', 'they',
  'this', 'to', 'was', 'will', 'with',
]);

const APOSTROPHE_IN_WORD = /(?<=[\p{L}\p{N}])['\u2019](?=[\p{L}\p{N}])/gu;
const WORD = /[\p{L}\p{N}][\p{L}\p{N}\p{M}]*/gu;
const STEMMABLE = /^[a-z]{3,}$/;

const NON_ASCII = /[^\x00-\x7f]/;

/** Splits `text` into index terms (see the module comment for the exact rules). */
export function tokenize(text: string): string[] {
  const lower = text.normalize('NFKC').toLowerCase();
  // Most texts are ASCII: the same rules by a scan of char codes cost a fraction of the Unicode regexes.
  if (!NON_ASCII.test(lower)) return tokenizeAscii(lower);
  const normalized = lower.replace(APOSTROPHE_IN_WORD, '');
  const tokens: string[] = [];
  for (const match of normalized.matchAll(WORD)) {
    const word = match[0];
    // UTF-16 length bounds the code-point count from above, so only long words pay for the spread.
    if (word.length > MAX_TOKEN_LENGTH && [...word].length > MAX_TOKEN_LENGTH) continue;
    if (STOP_WORDS.has(word)) continue;
    tokens.push(STEMMABLE.test(word) ? cachedStem(word) : word);
  }
  return tokens;
}

/** In ASCII, \p{L} and \p{N} are [a-z0-9] once lowercased, and \p{M} is empty. */
function isAsciiWordChar(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 48 && code <= 57);
}

function tokenizeAscii(text: string): string[] {
  const tokens: string[] = [];
  let word = '';
  let start = -1;
  let letters = true;
  const end = (at: number): void => {
    if (start >= 0) word += text.slice(start, at);
    if (word.length > 0 && word.length <= MAX_TOKEN_LENGTH && !STOP_WORDS.has(word)) {
      tokens.push(letters && word.length >= 3 ? cachedStem(word) : word);
    }
    word = '';
    start = -1;
    letters = true;
  };
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (isAsciiWordChar(code)) {
      if (start < 0) start = i;
      if (code <= 57) letters = false;
    } else if (code === 39 && start >= 0 && i + 1 < text.length && isAsciiWordChar(text.charCodeAt(i + 1))) {
      // An apostrophe between two word characters joins them (don't → dont).
      word += text.slice(start, i);
      start = i + 1;
    } else if (start >= 0 || word.length > 0) {
      end(i);
    }
  }
  end(text.length);
  return tokens;
}

/** Stems of recent words: a text's words repeat across documents (Zipf), and stem() is pure. */
const stems = new Map<string, string>();

function cachedStem(word: string): string {
  let stemmed = stems.get(word);
  if (stemmed === undefined) {
    stemmed = stem(word);
    if (stems.size >= 50_000) stems.clear();
    stems.set(word, stemmed);
  }
  return stemmed;
}

/** Porter steps 1a, 1b, 1c and 5 on a lowercase ASCII word of three letters or more. */
export function stem(word: string): string {
  let w = word;
  // Step 1a: plurals.
  if (w.endsWith('sses')) w = w.slice(0, -2);
  else if (w.endsWith('ies')) w = w.slice(0, -2);
  else if (!w.endsWith('ss') && w.endsWith('s')) w = w.slice(0, -1);
  // Step 1b: past tense and gerunds.
  if (w.endsWith('eed')) {
    if (measure(w.slice(0, -3)) > 0) w = w.slice(0, -1);
  } else {
    const suffix = w.endsWith('ed') ? 'ed' : w.endsWith('ing') ? 'ing' : undefined;
    if (suffix !== undefined && hasVowel(w.slice(0, -suffix.length))) {
      w = w.slice(0, -suffix.length);
      if (w.endsWith('at') || w.endsWith('bl') || w.endsWith('iz')) w += 'e';
      else if (endsDoubleConsonant(w) && !/[lsz]$/.test(w)) w = w.slice(0, -1);
      else if (measure(w) === 1 && endsCvc(w)) w += 'e';
    }
  }
  // Step 1c: a final y after a vowel-bearing stem.
  if (w.endsWith('y') && hasVowel(w.slice(0, -1))) w = `${w.slice(0, -1)}i`;
  // Step 5a: a final e, unless the stem is short and ends consonant-vowel-consonant (hope, make).
  if (w.endsWith('e')) {
    const base = w.slice(0, -1);
    const m = measure(base);
    if (m > 1 || (m === 1 && !endsCvc(base))) w = base;
  }
  // Step 5b: controll → control.
  if (measure(w) > 1 && w.endsWith('ll')) w = w.slice(0, -1);
  return w;
}

/** Porter's consonant: not a vowel, and `y` only when it follows a vowel or starts the word. */
function isConsonant(w: string, i: number): boolean {
  const ch = w[i];
  if (ch === 'a' || ch === 'e' || ch === 'i' || ch === 'o' || ch === 'u') return false;
  if (ch === 'y') return i === 0 || !isConsonant(w, i - 1);
  return true;
}

/** m in Porter's [C](VC)^m[V]: how many vowel-to-consonant transitions the stem has. */
function measure(w: string): number {
  let m = 0;
  for (let i = 1; i < w.length; i++) if (!isConsonant(w, i - 1) && isConsonant(w, i)) m++;
  return m;
}

function hasVowel(w: string): boolean {
  for (let i = 0; i < w.length; i++) if (!isConsonant(w, i)) return true;
  return false;
}

function endsDoubleConsonant(w: string): boolean {
  const n = w.length;
  return n >= 2 && w[n - 1] === w[n - 2] && isConsonant(w, n - 1);
}

/** Ends consonant-vowel-consonant where the last consonant is not w, x or y (hop, mak; not box). */
function endsCvc(w: string): boolean {
  const n = w.length;
  return n >= 3 && isConsonant(w, n - 3) && !isConsonant(w, n - 2) && isConsonant(w, n - 1) && !/[wxy]$/.test(w);
}

/** Each token's occurrences in `text` (none for undefined), and the token count: a document's BM25 inputs. */
export function termFrequencies(text: string | undefined): { tf: Map<string, number>; len: number } {
  const tf = new Map<string, number>();
  const tokens = text === undefined ? [] : tokenize(text);
  for (const token of tokens) tf.set(token, (tf.get(token) ?? 0) + 1);
  return { tf, len: tokens.length };
}
