export { tokenize, stem, STOP_WORDS, MAX_TOKEN_LENGTH } from './tokenizer.js';
export { planKeywordUpdate, searchKeyword, BM25_K1, BM25_B } from './keyword-index.js';
export type { KeywordChange, KeywordQuery, KeywordHit } from './keyword-index.js';
export { reciprocalRankFusion } from './rank-fusion.js';
export type { RankFusionOptions, FusedResult } from './rank-fusion.js';
