export * from './minilm-embedder.js';
export * from './model-files.js';
export * from './model-download.js';
