/**
 * The HTTP edge decides status codes: every error becomes an RFC 9457 problem+json with the error's
 * stable `code`. Unknown errors are 500 `internal_error` and leak no internals.
 */
import { isEngramError } from '@engram/core';

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  [extension: string]: unknown;
}

const STATUS_BY_CODE: Record<string, number> = {
  unauthorized: 401,
  forbidden: 403,
  memory_not_found: 404,
  route_not_found: 404,
  method_not_allowed: 405,
  /** A stale expectedVersion / If-Match: the precondition failed. */
  version_conflict: 412,
  kind_mismatch: 409,
  embedding_model_mismatch: 409,
  invalid_if_match: 400,
  limit_exceeded: 413,
  body_too_large: 413,
  unsupported_media_type: 415,
  consistency_timeout: 504,
};

/** Codes of the caller's own input; anything else unknown and non-retriable is our fault (500). */
const CLIENT_CODE = /^(invalid_|missing_|unknown_)/;

export function statusFor(code: string, retriable: boolean): number {
  const status = STATUS_BY_CODE[code];
  if (status !== undefined) return status;
  if (retriable) return 503;
  return CLIENT_CODE.test(code) ? 400 : 500;
}

export function toProblem(error: unknown): Problem {
  if (isEngramError(error) && statusFor(error.code, error.retriable) !== 500) {
    const status = statusFor(error.code, error.retriable);
    return {
      type: `https://engram.dev/problems/${error.code}`,
      title: error.code.replace(/_/g, ' '),
      status,
      code: error.code,
      detail: error.message,
      retriable: error.retriable,
      ...(error.details ? { details: error.details } : {}),
    };
  }
  return { type: 'https://engram.dev/problems/internal_error', title: 'internal error', status: 500, code: 'internal_error', detail: 'an unexpected error occurred; see the server log' };
}
