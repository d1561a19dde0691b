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

export function statusFor(code: string, retriable: boolean): number {
  const status = STATUS_BY_CODE[code];
  if (status !== undefined) return status;
  if (retriable) return 503;
  if (code.startsWith('invalid_') || code.startsWith('missing_') || code.startsWith('unknown_')) return 400;
  return 400;
}

export function toProblem(error: unknown): Problem {
  if (isEngramError(error)) {
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
