/**
 * The HTTP side of the Confluent-API schema registry adapter: one bounded request at a time, and the
 * boundary where transport failures become EngramErrors. HTTP statuses other than "the registry is
 * unwell" are handed back to the caller, because what a 404 or 409 means depends on the endpoint.
 */
import { EngramError, UnavailableError } from '@engram/core';

export const UNAVAILABLE = 'schema_registry_unavailable';

/** A registry answer that is not a transport failure (2xx, and the 4xx the caller interprets). */
export interface RegistryResponse {
  status: number;
  body: unknown;
}

export interface RegistryHttpOptions {
  /** Base URL of the Confluent-compatible API, without a trailing slash. */
  url: string;
  /** Per-request bound, connection and body included. */
  requestTimeoutMs: number;
  /** Sent as HTTP basic auth when set. */
  basicAuth: { username: string; password: string } | undefined;
}

export interface RegistryHttp {
  /**
   * Sends one request. Resolves with any 2xx or 4xx answer (except 408 and 429); throws
   * `schema_registry_unavailable` (retriable, with the cause) on network errors, timeouts, 408, 429
   * and 5xx, and `registry_closed` once `close()` was called.
   */
  request(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<RegistryResponse>;
  /** Aborts requests in flight; later requests fail with `registry_closed`. */
  close(): void;
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

export function createRegistryHttp(options: RegistryHttpOptions): RegistryHttp {
  const closing = new AbortController();
  const headers: Record<string, string> = { accept: `${CONTENT_TYPE}, application/json` };
  if (options.basicAuth !== undefined) {
    const { username, password } = options.basicAuth;
    headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }

  return {
    async request(method, path, body) {
      if (closing.signal.aborted) throw closedError();
      const target = `${options.url}${path}`;
      const timeout = AbortSignal.timeout(options.requestTimeoutMs);
      let status: number;
      let text: string;
      try {
        const response = await fetch(target, {
          method,
          headers: body === undefined ? headers : { ...headers, 'content-type': CONTENT_TYPE },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.any([timeout, closing.signal]),
        });
        status = response.status;
        // The body is read under the same signal, so a registry that stalls mid-answer is bounded too.
        text = await response.text();
      } catch (cause) {
        if (closing.signal.aborted) throw closedError();
        const reason = timeout.aborted ? `did not answer within ${options.requestTimeoutMs} ms` : `could not be reached (${describe(cause)})`;
        throw new UnavailableError(UNAVAILABLE, `the schema registry at ${options.url} ${reason}: ${method} ${path}`, {
          cause,
          details: { url: options.url, method, path },
        });
      }
      const parsed = parseBody(text);
      if (status >= 500 || status === 408 || status === 429) {
        throw new UnavailableError(UNAVAILABLE, `the schema registry at ${options.url} answered ${status} to ${method} ${path}: ${registryMessage(parsed)}`, {
          details: { url: options.url, method, path, status, registryErrorCode: registryErrorCode(parsed) },
        });
      }
      return { status, body: parsed };
    },

    close() {
      closing.abort();
    },
  };
}

/** The registry's own explanation (`{"error_code": …, "message": …}`), or the raw text. */
export function registryMessage(body: unknown): string {
  if (typeof body === 'object' && body !== null && 'message' in body) return String((body as { message: unknown }).message);
  return typeof body === 'string' ? body.slice(0, 500) : JSON.stringify(body);
}

export function registryErrorCode(body: unknown): number | undefined {
  const code = typeof body === 'object' && body !== null ? (body as { error_code?: unknown }).error_code : undefined;
  return typeof code === 'number' ? code : undefined;
}

/** A 4xx the caller did not expect: not retriable, with the registry's words. */
export function unexpectedAnswer(action: string, response: RegistryResponse): EngramError {
  return new EngramError('schema_registry_error', `the schema registry refused to ${action}: ${response.status} ${registryMessage(response.body)}`, {
    retriable: false,
    details: { status: response.status, registryErrorCode: registryErrorCode(response.body) },
  });
}

function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** fetch hides the useful part (ECONNREFUSED, ENOTFOUND…) in `cause.cause`. */
function describe(error: unknown): string {
  const inner = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (inner !== undefined && inner !== null) return String(inner.code ?? inner.message);
  return error instanceof Error ? error.message : String(error);
}

function closedError(): EngramError {
  return new EngramError('registry_closed', 'the schema registry is closed');
}
