export * from './schema-files.js';
export * from './event-codec.js';
export * from './memory-event-codec.js';
export * from './enriched-event-codec.js';
export * from './enriched-splice.js';
export * from './memory-state-codec.js';
export * from './dead-letter-codec.js';
