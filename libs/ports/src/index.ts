export * from './event-log.js';
export * from './kv-store.js';
export * from './vector-index.js';
export * from './cache.js';
export * from './blob-store.js';
export * from './embedder.js';
export * from './schema-registry.js';
