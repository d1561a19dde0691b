export * from './log/kafka-event-log.js';
export * from './registry/index.js';
