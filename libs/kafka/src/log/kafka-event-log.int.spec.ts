/**
 * The Kafka EventLog against a real broker (KRaft, provisioned by `npm run engines:up`): the very
 * contract suite the embedded log passes. Topic and group names are unique per run, so the suite
 * shares the broker with other runs.
 */
import { eventLogContract, withEngine } from '@engram/testing';
import { createKafkaEventLog } from './kafka-event-log.js';

withEngine('EventLog contract: Kafka', 'kafka', 'ENGRAM_KAFKA_BROKERS', (brokers) => {
  eventLogContract('Kafka', async () => {
    const log = createKafkaEventLog({ brokers: brokers.split(','), clientId: 'engram-contract', transactionalId: `engram-contract-${process.pid}` });
    return { log, cleanup: () => log.close() };
  });
});
