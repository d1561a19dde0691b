/**
 * kafkajs errors → EngramErrors at the adapter boundary (CONVENTIONS: translate vendor errors, keep
 * the cause). A broker that cannot be reached, or answers too slowly, is `log_unavailable`
 * (retriable: HTTP answers 503, workers retry with backoff); an unknown topic is `topic_not_found`.
 */
import { EngramError, NotFoundError, UnavailableError, isEngramError } from '@engram/core';

interface KafkaJsErrorShape {
  name?: string;
  type?: string;
  message?: string;
  retriable?: boolean;
  originalError?: unknown;
  cause?: unknown;
}

/**
 * The error and what it wraps, outermost first. kafkajs wraps the last attempt's error when it gives
 * up retrying — in `cause` (KafkaJSNumberOfRetriesExceeded, and the KafkaJSNonRetriableError an outer
 * retrier wraps that in), or in `originalError` for a few older types.
 */
function chain(error: unknown): KafkaJsErrorShape[] {
  const out: KafkaJsErrorShape[] = [];
  let current = error as KafkaJsErrorShape | undefined;
  while (current !== null && typeof current === 'object' && out.length < 8 && !out.includes(current)) {
    out.push(current);
    current = (current.originalError ?? current.cause) as KafkaJsErrorShape | undefined;
  }
  return out;
}

function innermost(error: unknown): KafkaJsErrorShape {
  return chain(error).at(-1) ?? {};
}

/** Plain Errors kafkajs throws when it has no connection (not typed, so matched by message). */
const UNAVAILABLE_MESSAGE = /not connected|ECONNREFUSED|ECONNRESET|EPIPE|socket hang up|Connection (closed|timeout)/i;

const UNAVAILABLE = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSBrokerNotFound',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSLockTimeout',
  'KafkaJSTimeout',
]);

/**
 * Protocol errors of a consumer group changing under a member (a rebalance, a coordinator moving).
 * kafkajs marks some of them non-retriable, but for a worker they are not the records' fault: the
 * commit is lost, the records are delivered again (to this member or the new owner) and skipped as
 * already applied. So they map to the retriable `group_rebalanced`, which the consumer loop logs and
 * carries on from, instead of ending the process.
 */
const REBALANCE_TYPES = new Set([
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
  'REBALANCE_IN_PROGRESS',
  'NOT_COORDINATOR_FOR_GROUP',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'GROUP_LOAD_IN_PROGRESS',
  'FENCED_INSTANCE_ID',
]);

/**
 * kafkajs restarts a consumer whose run crashed (a broker outage); a commit in between finds no group
 * ("Consumer group was not initialized, consumer#run must be called first"). Same as a rebalance for
 * the worker: the commit is lost and the records come again.
 */
const RESTARTING_MESSAGE = /Consumer group was not initialized/;

/**
 * @param what the operation, for the message (`append to memory-events`).
 * @param topic named in `topic_not_found`.
 */
export function fromKafkaError(error: unknown, what: string, topic?: string): EngramError {
  if (isEngramError(error)) return error;
  const outer = error as KafkaJsErrorShape;
  const inner = innermost(error);
  if (inner.type === 'UNKNOWN_TOPIC_OR_PARTITION' && topic !== undefined) {
    return new NotFoundError('topic_not_found', `topic ${topic} does not exist`, { topic });
  }
  const message = `${what}: ${inner.message ?? outer.message ?? String(error)}`;
  if (chain(error).some((e) => REBALANCE_TYPES.has(e.type ?? '') || RESTARTING_MESSAGE.test(e.message ?? ''))) {
    return new EngramError('group_rebalanced', `${message} (the consumer group changed; the records will be delivered again)`, { retriable: true, cause: error });
  }
  const unavailable = chain(error).some((e) => UNAVAILABLE.has(e.name ?? '') || e.name === 'KafkaJSNumberOfRetriesExceeded' || UNAVAILABLE_MESSAGE.test(e.message ?? ''));
  if (unavailable) {
    return new UnavailableError('log_unavailable', `the Kafka log is unavailable (${message})`, { cause: error });
  }
  return new EngramError('log_error', message, { retriable: inner.retriable === true, cause: error });
}

/** Rejects with `log_unavailable` when `promise` has not settled after `ms` (a bound on kafkajs' own retries). */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UnavailableError('log_unavailable', `the Kafka log is unavailable (${what} took longer than ${ms} ms)`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `attempt` again while it fails with an error kafkajs marks retriable (a coordinator or
 * leader that moved or is still loading, a topic whose metadata has not reached every broker),
 * with a short growing pause, until `deadlineMs` from now. Only for attempts that leave nothing
 * behind when they fail (an aborted transaction, an idempotent admin call).
 */
export async function retryingKafka<T>(attempt: () => Promise<T>, deadlineMs: number): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (let pause = 50; ; pause = Math.min(pause * 2, 1_000)) {
    try {
      return await attempt();
    } catch (error) {
      const retriable = (innermost(error).retriable ?? (error as KafkaJsErrorShape).retriable) === true;
      if (!retriable || Date.now() + pause > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}
