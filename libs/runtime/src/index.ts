export * from './engram.js';
export * from './ports.js';
export * from './run.js';
