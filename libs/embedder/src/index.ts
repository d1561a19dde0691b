export * from './minilm-embedder.js';
export * from './model-files.js';
