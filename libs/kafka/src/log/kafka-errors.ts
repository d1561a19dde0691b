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
}

/** kafkajs wraps the last attempt's error when it gives up retrying; the cause is the inner one. */
function innermost(error: unknown): KafkaJsErrorShape {
  let current = error as KafkaJsErrorShape;
  for (let depth = 0; depth < 5 && current?.originalError !== undefined; depth++) current = current.originalError as KafkaJsErrorShape;
  return current ?? {};
}

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
  if (UNAVAILABLE.has(inner.name ?? '') || UNAVAILABLE.has(outer.name ?? '') || outer.name === 'KafkaJSNumberOfRetriesExceeded') {
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
