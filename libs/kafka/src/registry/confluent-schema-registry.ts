/**
 * The distributed SchemaRegistry: a Confluent-API schema registry (Confluent Schema Registry,
 * Apicurio's ccompat API, Redpanda…) over its REST API with plain fetch. Ids are the registry's, so
 * the Confluent wire format (magic byte + 4-byte id) written by Engram is readable by any other
 * client of the same registry.
 *
 * Why not @kafkajs/confluent-schema-registry for these calls: its `register` answers only the id
 * (no version), sets the subject's compatibility only after the first registration and throws when
 * the subject is configured stricter than asked, and `getSchema` answers a parsed avsc Type, not the
 * text; its requests are retried by mappersmith without a per-request time bound.
 */
import avro from 'avsc';
import { EngramError, NotFoundError, ValidationError } from '@engram/core';
import type { RegisteredSchema, SchemaRegistry } from '@engram/ports';
import { createRegistryHttp, registryErrorCode, registryMessage, unexpectedAnswer } from './registry-http.js';
import type { RegistryResponse } from './registry-http.js';

/** Compatibility levels that include BACKWARD (the port's promise); FORWARD-only and NONE are not offered. */
export type BackwardCompatibility = 'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FULL' | 'FULL_TRANSITIVE';

export interface ConfluentSchemaRegistryOptions {
  /**
   * Base URL of the Confluent-compatible REST API, e.g. `http://localhost:8081` (Confluent) or
   * `http://localhost:8080/apis/ccompat/v7` (Apicurio). A trailing slash is ignored.
   */
  url: string;
  /**
   * Compatibility each subject must enforce. Before a subject's first new version from this
   * instance, its subject-level setting is read and, unless it already implies this level, set to it
   * (so a subject left at NONE, Apicurio's global default, is raised; a stricter one is kept).
   * @default 'BACKWARD'
   */
  compatibility?: BackwardCompatibility;
  /**
   * Bound on each HTTP request, connection and body included; past it the call fails with
   * `schema_registry_unavailable`. There are no retries here: the error is retriable and callers
   * (workers) own the retry policy.
   * @default 5000
   */
  requestTimeoutMs?: number;
  /** HTTP basic auth (Confluent Cloud API key and secret, or a registry behind a proxy). @default undefined */
  basicAuth?: { username: string; password: string };
}

/** Which subject-level settings satisfy each wanted level. */
const IMPLIES: Record<BackwardCompatibility, readonly string[]> = {
  BACKWARD: ['BACKWARD', 'BACKWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE'],
  BACKWARD_TRANSITIVE: ['BACKWARD_TRANSITIVE', 'FULL_TRANSITIVE'],
  FULL: ['FULL', 'FULL_TRANSITIVE'],
  FULL_TRANSITIVE: ['FULL_TRANSITIVE'],
};

/** What the registry answers for a subject version (lookup, latest). */
interface SubjectVersion {
  subject: string;
  id: number;
  version: number;
  schema: string;
}

/**
 * Create a SchemaRegistry on a Confluent-API registry.
 *
 * - Schemas are sent and returned as the same canonical JSON as the embedded registry (avsc's
 *   `Type#schema({ exportAttrs: true })`), so formatting never creates a new id or version, and the
 *   text is the same in both modes.
 * - `register` first looks the schema up under the subject (an older version registered again is
 *   found, not re-added); a 409 from the registry becomes `schema_incompatible`. Answers are kept per
 *   subject and text, so a codec registering at every start costs one request per process.
 * - `getById` answers are cached for the life of the instance (a schema id never changes meaning);
 *   `getLatest` always asks the registry.
 */
export function createConfluentSchemaRegistry(options: ConfluentSchemaRegistryOptions): SchemaRegistry {
  const url = options.url.replace(/\/+$/, '');
  const compatibility = options.compatibility ?? 'BACKWARD';
  const http = createRegistryHttp({ url, requestTimeoutMs: options.requestTimeoutMs ?? 5000, basicAuth: options.basicAuth });
  const byId = new Map<number, Promise<RegisteredSchema>>();
  const registered = new Map<string, RegisteredSchema>();
  const configured = new Map<string, Promise<void>>();
  let closed = false;

  function assertOpen(): void {
    if (closed) throw new EngramError('registry_closed', 'the schema registry is closed');
  }

  const subjectPath = (subject: string): string => `/subjects/${encodeURIComponent(subject)}`;

  async function lookup(subject: string, text: string): Promise<SubjectVersion | undefined> {
    const response = await http.request('POST', subjectPath(subject), { schema: text });
    if (response.status === 404) return undefined; // unknown subject (40401) or schema not under it (40403)
    return subjectVersion(response, `look up a schema under subject ${subject}`);
  }

  /** Once per subject and instance; a failed attempt is forgotten so the next call retries it. */
  function ensureCompatibility(subject: string): Promise<void> {
    let pending = configured.get(subject);
    if (pending === undefined) {
      pending = configureSubject(subject);
      pending.catch(() => configured.delete(subject));
      configured.set(subject, pending);
    }
    return pending;
  }

  async function configureSubject(subject: string): Promise<void> {
    const path = `/config/${encodeURIComponent(subject)}`;
    const current = await http.request('GET', path);
    // 404: no subject-level setting (Confluent 40408) or no subject yet (Apicurio 40401).
    const level = current.status === 200 ? (current.body as { compatibilityLevel?: unknown }).compatibilityLevel : undefined;
    if (current.status !== 200 && current.status !== 404) throw unexpectedAnswer(`read the compatibility of subject ${subject}`, current);
    if (typeof level === 'string' && IMPLIES[compatibility].includes(level.toUpperCase())) return;
    const updated = await http.request('PUT', path, { compatibility });
    if (updated.status !== 200) throw unexpectedAnswer(`set compatibility ${compatibility} on subject ${subject}`, updated);
  }

  async function fetchById(id: number): Promise<RegisteredSchema> {
    const [schema, versions] = await Promise.all([
      http.request('GET', `/schemas/ids/${id}`),
      // Confluent lists soft-deleted versions with deleted=true; Apicurio ignores the parameter.
      http.request('GET', `/schemas/ids/${id}/versions?deleted=true`),
    ]);
    if (schema.status === 404) throw new NotFoundError('schema_not_found', `no schema has id ${id}`, { id });
    if (schema.status !== 200) throw unexpectedAnswer(`get schema ${id}`, schema);
    const text = canonicalText((schema.body as { schema?: unknown }).schema, `schema ${id} in the registry`);
    // The first subject version that uses the id, as the embedded registry answers; a schema whose
    // subjects were all deleted still decodes, so it is returned with no subject rather than refused.
    const first = versions.status === 200 && Array.isArray(versions.body) ? (versions.body[0] as { subject?: unknown; version?: unknown } | undefined) : undefined;
    return { id, subject: typeof first?.subject === 'string' ? first.subject : '', version: typeof first?.version === 'number' ? first.version : 0, schema: text };
  }

  return {
    async register(subject, schema) {
      assertOpen();
      const text = canonicalText(schema, `the schema for subject ${subject}`);
      const key = `${subject}\u0000${text}`;
      const known = registered.get(key);
      if (known !== undefined) return known;

      let found = await lookup(subject, text);
      if (found === undefined) {
        await ensureCompatibility(subject);
        const response = await http.request('POST', `${subjectPath(subject)}/versions`, { schema: text });
        if (response.status === 409) throw incompatible(subject, compatibility, response);
        if (response.status === 422) {
          throw new ValidationError('schema_invalid', `the registry refused the schema for subject ${subject} as invalid: ${registryMessage(response.body)}`, {
            subject,
            registryErrorCode: registryErrorCode(response.body),
          });
        }
        if (response.status !== 200) throw unexpectedAnswer(`register a schema under subject ${subject}`, response);
        // Registration answers only the id; the version comes from looking the schema up again.
        found = await lookup(subject, text);
        if (found === undefined) throw new EngramError('schema_registry_error', `the schema registered under subject ${subject} cannot be found again`, { retriable: true });
      }
      const result: RegisteredSchema = { id: found.id, subject, version: found.version, schema: text };
      registered.set(key, result);
      return result;
    },

    async getById(id) {
      assertOpen();
      if (!Number.isSafeInteger(id) || id <= 0) throw new NotFoundError('schema_not_found', `no schema has id ${id}`, { id });
      let pending = byId.get(id);
      if (pending === undefined) {
        pending = fetchById(id);
        // Only answers are cached: an unknown id or an outage is asked again next time.
        pending.catch(() => byId.delete(id));
        byId.set(id, pending);
      }
      return pending;
    },

    async getLatest(subject) {
      assertOpen();
      const response = await http.request('GET', `${subjectPath(subject)}/versions/latest`);
      if (response.status === 404) return undefined;
      const latest = subjectVersion(response, `get the latest version of subject ${subject}`);
      return { id: latest.id, subject, version: latest.version, schema: canonicalText(latest.schema, `the latest schema of subject ${subject}`) };
    },

    async close() {
      if (closed) return;
      closed = true;
      http.close();
      byId.clear();
      registered.clear();
      configured.clear();
    },
  };
}

function subjectVersion(response: RegistryResponse, action: string): SubjectVersion {
  const body = response.body as Partial<SubjectVersion> | undefined;
  if (response.status !== 200 || typeof body?.id !== 'number' || typeof body.version !== 'number' || typeof body.schema !== 'string') {
    throw unexpectedAnswer(action, response);
  }
  return body as SubjectVersion;
}

/** avsc's canonical JSON (with docs, defaults and logical types), the embedded registry's text. */
function canonicalText(schema: unknown, what: string): string {
  try {
    if (typeof schema !== 'string') throw new Error('no schema text');
    return JSON.stringify(avro.Type.forSchema(JSON.parse(schema) as avro.Schema).schema({ exportAttrs: true }));
  } catch (cause) {
    throw new ValidationError('schema_invalid', `${what} is not valid Avro: ${(cause as Error).message}`);
  }
}

function incompatible(subject: string, compatibility: BackwardCompatibility, response: RegistryResponse): EngramError {
  return new EngramError(
    'schema_incompatible',
    `the registry refused the schema for subject ${subject}: it is not ${compatibility} compatible with the registered ` +
      `version(s), so readers with it could not read data already written (${registryMessage(response.body)})`,
    { retriable: false, details: { subject, compatibility, registryErrorCode: registryErrorCode(response.body) } },
  );
}
