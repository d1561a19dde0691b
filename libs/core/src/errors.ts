/**
 * One base error for the whole code base. `code` is stable (clients and tests match on it), `retriable`
 * tells workers whether to retry, dead-letter or crash. HTTP status is decided at the HTTP edge from
 * `code`, never here.
 */
export class EngramError extends Error {
  readonly code: string;
  readonly retriable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: { retriable?: boolean; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.details = options.details;
  }
}

/** Input that can never be valid: a bad id, an unknown event type, a malformed value. */
export class ValidationError extends EngramError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, { retriable: false, details });
  }
}

/** Input larger than a configured limit (body, batch, value, text, key, vector dims). */
export class LimitExceededError extends EngramError {
  /** `details` (optional) adds context such as the offending `field`; limit/actual/max always win. */
  constructor(limit: string, actual: number, max: number, message?: string, details?: Record<string, unknown>) {
    super('limit_exceeded', message ?? `${limit} is ${actual}, the limit is ${max}`, { details: { ...details, limit, actual, max } });
  }
}

/** A precondition on state failed (stale expectedVersion, kind mismatch). */
export class ConflictError extends EngramError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, { retriable: false, details });
  }
}

export class NotFoundError extends EngramError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, { retriable: false, details });
  }
}

/** A dependency is down or slow; the same call may succeed later. */
export class UnavailableError extends EngramError {
  constructor(code: string, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(code, message, { retriable: true, ...options });
  }
}

export function isEngramError(error: unknown): error is EngramError {
  return error instanceof EngramError;
}

/**
 * An error as it crosses a thread boundary (worker threads): structured clone keeps only a plain
 * Error's name, message and stack, so an EngramError travels as this and is rebuilt on arrival.
 */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  retriable?: boolean;
  details?: Record<string, unknown>;
}

export function errorToWire(error: unknown): WireError {
  if (error instanceof EngramError) {
    const wire: WireError = { name: error.name, message: error.message, code: error.code, retriable: error.retriable };
    if (error.details !== undefined) wire.details = error.details;
    return wire;
  }
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}

/** Rebuilds an error sent by {@link errorToWire}: Engram errors keep code, retriable and details; others stay plain. */
export function errorFromWire(wire: WireError): Error {
  if (wire.code === undefined) {
    const error = new Error(wire.message);
    error.name = wire.name;
    return error;
  }
  const options: { retriable?: boolean; details?: Record<string, unknown> } = { retriable: wire.retriable ?? false };
  if (wire.details !== undefined) options.details = wire.details;
  return new EngramError(wire.code, wire.message, options);
}
