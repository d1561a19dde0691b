import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_TOKEN_LENGTH, stem, tokenize } from './tokenizer.js';

describe('tokenize', () => {
  it('lowercases, splits on non-word characters and drops stop words', () => {
    assert.deepEqual(tokenize('The Planner agent, and THE critic: v2-draft #42!'), ['planner', 'agent', 'critic', 'v2', 'draft', '42']);
    assert.deepEqual(tokenize(''), []);
    assert.deepEqual(tokenize('  ...  the of a  '), []);
  });

  it('handles Unicode letters, digits, marks and compatibility forms', () => {
    assert.deepEqual(tokenize('Café ZÜRICH naïve 東京 Ｐｌａｎ１２'), ['café', 'zürich', 'naïve', '東京', 'plan12']);
    // A decomposed é (e + combining acute) is the same token as the composed one.
    assert.deepEqual(tokenize('cafe\u0301'), tokenize('caf\u00e9'));
  });

  it('joins words across an apostrophe instead of leaving stray letters', () => {
    assert.deepEqual(tokenize("don't forget the agent’s notes"), ['dont', 'forget', 'agent', 'note']);
  });

  it('ignores tokens longer than the limit', () => {
    const kept = 'x'.repeat(MAX_TOKEN_LENGTH);
    assert.deepEqual(tokenize(`${'y'.repeat(MAX_TOKEN_LENGTH + 1)} ${kept} ok`), [kept, 'ok']);
    // The limit counts code points: 64 astral letters are 128 UTF-16 units and still one token.
    assert.equal(tokenize('\u{10400}'.repeat(MAX_TOKEN_LENGTH))[0]?.length, 2 * MAX_TOKEN_LENGTH);
    assert.deepEqual(tokenize('\u{10400}'.repeat(MAX_TOKEN_LENGTH + 1)), []);
  });

  it('stems inflections so related forms meet on one term', () => {
    const same = (words: string[]) => assert.equal(new Set(words.map((w) => tokenize(w)[0])).size, 1, words.join(' '));
    same(['memory', 'memories']);
    same(['index', 'indexes', 'indexed', 'indexing']);
    same(['run', 'runs', 'running']);
    same(['make', 'making', 'makes']);
    same(['hope', 'hoping', 'hopes']);
    same(['box', 'boxes']);
    same(['class', 'classes']);
    same(['agree', 'agreed']);
  });

  it('keeps distinct words distinct and leaves short, numeric and non-ASCII tokens alone', () => {
    assert.notEqual(stem('hope'), stem('hop'));
    assert.notEqual(stem('general'), stem('generate'));
    assert.equal(stem('sing'), 'sing');
    assert.equal(stem('string'), 'string');
    assert.deepEqual(tokenize('us 10s años'), ['us', '10s', 'años']);
  });

  it('gives ASCII text the same tokens as the Unicode rules do', () => {
    // A trailing non-ASCII word sends the text through the general (regex) path; alone, the ASCII
    // text takes the fast path. Both must agree, apostrophes, digits, stop words and long runs included.
    const alphabet = fc.constantFrom(...'abcdeiosty019 \'-.,ABZ'.split(''), 'ing ', 'ies ', "n't ", 'the ', 'x'.repeat(70));
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 40 }), (parts) => {
        const text = parts.join('');
        assert.deepEqual(tokenize(`${text} \u00e9`), [...tokenize(text), '\u00e9']);
      }),
      { numRuns: 2000 },
    );
  });

  it('is deterministic', () => {
    const text = 'Agents shared memories, indexing and ranking them: 3 runs.';
    assert.deepEqual(tokenize(text), tokenize(text));
    assert.deepEqual(tokenize(text), ['agent', 'share', 'memori', 'index', 'rank', 'them', '3', 'run']);
  });
});
