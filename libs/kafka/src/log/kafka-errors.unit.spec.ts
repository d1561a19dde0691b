import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fromKafkaError } from './kafka-errors.js';

/** kafkajs' shapes: a protocol error (with `type`) wrapped by the retrier in a non-retriable error. */
function wrapped(type: string, message: string): Error {
  const protocol = Object.assign(new Error(message), { name: 'KafkaJSProtocolError', type, retriable: false });
  return Object.assign(new Error(message, { cause: protocol }), { name: 'KafkaJSNonRetriableError', retriable: false });
}

describe('fromKafkaError', () => {
  it('maps a commit lost to a rebalance to the retriable group_rebalanced (a worker carries on)', () => {
    for (const type of ['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP']) {
      const error = fromKafkaError(wrapped(type, 'Specified group generation id is not valid'), 'commit offsets of group g on t', 't');
      assert.equal(error.code, 'group_rebalanced', type);
      assert.equal(error.retriable, true, type);
      assert.match(error.message, /commit offsets of group g on t/);
    }
  });

  it('maps a commit while kafkajs restarts a crashed consumer to group_rebalanced too (seen after a broker outage)', () => {
    const restarting = Object.assign(new Error('Consumer group was not initialized, consumer#run must be called first'), { name: 'KafkaJSNonRetriableError', retriable: false });
    const error = fromKafkaError(restarting, 'commit offsets of group g on t', 't');
    assert.equal(error.code, 'group_rebalanced');
    assert.equal(error.retriable, true);
  });

  it('keeps other protocol errors as log_error with kafkajs\' retriable flag, and a lost connection as log_unavailable', () => {
    const fatal = fromKafkaError(wrapped('INVALID_REQUIRED_ACKS', 'bad acks'), 'append to t', 't');
    assert.equal(fatal.code, 'log_error');
    assert.equal(fatal.retriable, false);
    const unknown = fromKafkaError(wrapped('UNKNOWN_TOPIC_OR_PARTITION', 'no topic'), 'append to t', 't');
    assert.equal(unknown.code, 'topic_not_found');
    const down = fromKafkaError(Object.assign(new Error('Connection error: connect ECONNREFUSED'), { name: 'KafkaJSConnectionError' }), 'append to t');
    assert.equal(down.code, 'log_unavailable');
    assert.equal(down.retriable, true);
  });
});
