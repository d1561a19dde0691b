export { createConfluentSchemaRegistry } from './confluent-schema-registry.js';
export type { BackwardCompatibility, ConfluentSchemaRegistryOptions } from './confluent-schema-registry.js';
