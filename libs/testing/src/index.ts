export * from './contracts/schema-registry.contract.js';
export * from './e2e/engram-process.js';
export * from './contracts/vector-index.contract.js';
export * from './contracts/cache.contract.js';
export * from './contracts/blob-store.contract.js';
export * from './contracts/embedder.contract.js';
export * from './contracts/event-log.contract.js';
export * from './contracts/kv-store.contract.js';
