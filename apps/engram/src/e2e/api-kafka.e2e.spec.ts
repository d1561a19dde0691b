/**
 * The HTTP API suite (api-suite.ts), unchanged, against `engram start` with ENGRAM_LOG=kafka: the
 * log on the real broker and the schemas in the real registry that `npm run engines:up` started.
 * Topics and the sequencer's transactional id are unique per run, so runs share the broker.
 */
import { randomBytes } from 'node:crypto';
import { engineEnv, withEngine } from '@engram/testing';
import { apiSuite } from './api-suite.js';

withEngine('HTTP API v1 (engram start, kafka)', 'kafka', 'ENGRAM_KAFKA_BROKERS', (brokers) => {
  apiSuite('kafka', () => {
    const run = randomBytes(4).toString('hex');
    const registry = engineEnv().ENGRAM_SCHEMA_REGISTRY_URL;
    if (registry === undefined) throw new Error('ENGRAM_SCHEMA_REGISTRY_URL is not set (npm run engines:up starts the registry with Kafka)');
    return {
      ENGRAM_LOG: 'kafka',
      ENGRAM_KAFKA_BROKERS: brokers,
      ENGRAM_SCHEMA_REGISTRY_URL: registry,
      ENGRAM_TOPIC_PREFIX: `e2e-${run}-`,
      ENGRAM_KAFKA_TRANSACTIONAL_ID: `e2e-${run}`,
    };
  });
});
