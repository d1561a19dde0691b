/**
 * The embedded SchemaRegistry: Confluent's model (global ids, versions per subject, BACKWARD
 * compatibility) kept in LMDB, so the wire format and ids are the same as with a remote registry and
 * data moves between modes.
 */
import { open } from 'lmdb';
import type { RootDatabase } from 'lmdb';
import avro from 'avsc';
import type { Type } from 'avsc';
import { EngramError, NotFoundError, ValidationError } from '@engram/core';
import type { RegisteredSchema, SchemaRegistry } from '../schema-registry.js';

export interface LmdbSchemaRegistryOptions {
  /** Directory of the LMDB environment (created when missing). Use one directory per registry. */
  path: string;
}

/** What is stored under `['schema', id]`: the text, and where the id was first registered. */
interface StoredSchema {
  schema: string;
  subject: string;
  version: number;
}

type Key = (string | number)[];

const NEXT_ID: Key = ['next-id'];
const schemaKey = (id: number): Key => ['schema', id];
const fingerprintKey = (fingerprint: string): Key => ['fingerprint', fingerprint];
const versionKey = (subject: string, version: number): Key => ['version', subject, version];
const latestKey = (subject: string): Key => ['latest', subject];
const subjectFingerprintKey = (subject: string, fingerprint: string): Key => ['subject-fingerprint', subject, fingerprint];

/**
 * Create an LMDB-backed schema registry.
 *
 * - Ids are global (one id per distinct schema, whatever the subject), start at 1, are never reused
 *   and survive restarts.
 * - Identity is avsc's canonical form (`Type#schema()` without docs, defaults or aliases, hashed with
 *   sha256): the same schema reformatted or re-documented gets the existing id and version back.
 * - A new version must be BACKWARD compatible with the subject's latest (a reader with the new schema
 *   can read data written with the latest one), else `schema_incompatible`.
 * - The stored text is self-contained normalized JSON with docs and defaults, so any Avro reader can
 *   use what `getById` returns.
 */
export function createLmdbSchemaRegistry(options: LmdbSchemaRegistryOptions): SchemaRegistry {
  const db: RootDatabase<unknown, Key> = open<unknown, Key>({ path: options.path });
  let closed = false;

  function assertOpen(): void {
    if (closed) throw new EngramError('registry_closed', 'the schema registry is closed');
  }

  function read(id: number, stored: StoredSchema): RegisteredSchema {
    return { id, subject: stored.subject, version: stored.version, schema: stored.schema };
  }

  function latestOf(subject: string): RegisteredSchema | undefined {
    const version = db.get(latestKey(subject)) as number | undefined;
    if (version === undefined) return undefined;
    const id = db.get(versionKey(subject, version)) as number;
    const stored = db.get(schemaKey(id)) as StoredSchema;
    return { id, subject, version, schema: stored.schema };
  }

  return {
    async register(subject, schema) {
      assertOpen();
      const type = parse(schema, 'schema_invalid', `the schema for subject ${subject} is not valid Avro`);
      const fingerprint = type.fingerprint('sha256').toString('hex');
      const text = JSON.stringify(type.schema({ exportAttrs: true }));
      // One synchronous write transaction: checks and allocation see a consistent store, two
      // registrations racing (even from two processes) cannot get the same id or version, and a throw
      // aborts it. Registrations are rare (once per codec and process), so blocking is fine.
      return db.transactionSync(() => {
        const knownVersion = db.get(subjectFingerprintKey(subject, fingerprint)) as number | undefined;
        const knownId = db.get(fingerprintKey(fingerprint)) as number | undefined;
        if (knownVersion !== undefined && knownId !== undefined) {
          return { id: knownId, subject, version: knownVersion, schema: (db.get(schemaKey(knownId)) as StoredSchema).schema };
        }
        const latest = latestOf(subject);
        if (latest !== undefined) assertBackwardCompatible(subject, type, latest);
        // Everything that can throw is above this line, so a refused schema writes nothing.
        const version = (latest?.version ?? 0) + 1;
        let id = knownId;
        if (id === undefined) {
          id = (db.get(NEXT_ID) as number | undefined) ?? 1;
          db.putSync(NEXT_ID, id + 1);
          db.putSync(fingerprintKey(fingerprint), id);
          db.putSync(schemaKey(id), { schema: text, subject, version } satisfies StoredSchema);
        }
        db.putSync(versionKey(subject, version), id);
        db.putSync(latestKey(subject), version);
        db.putSync(subjectFingerprintKey(subject, fingerprint), version);
        return { id, subject, version, schema: (db.get(schemaKey(id)) as StoredSchema).schema };
      });
    },

    async getById(id) {
      assertOpen();
      const stored = Number.isSafeInteger(id) ? (db.get(schemaKey(id)) as StoredSchema | undefined) : undefined;
      if (stored === undefined) throw new NotFoundError('schema_not_found', `no schema has id ${id}`, { id });
      return read(id, stored);
    },

    async getLatest(subject) {
      assertOpen();
      return latestOf(subject);
    },

    async close() {
      if (closed) return;
      closed = true;
      await db.close();
    },
  };
}

function parse(schema: string, code: string, message: string): Type {
  try {
    return avro.Type.forSchema(JSON.parse(schema) as avro.Schema);
  } catch (cause) {
    throw new ValidationError(code, `${message}: ${(cause as Error).message}`);
  }
}

/** BACKWARD: a reader using `next` must be able to read everything written with `latest`. */
function assertBackwardCompatible(subject: string, next: Type, latest: RegisteredSchema): void {
  const writer = parse(latest.schema, 'schema_invalid', `stored schema ${latest.id} is not valid Avro`);
  try {
    next.createResolver(writer);
  } catch (cause) {
    throw new EngramError(
      'schema_incompatible',
      `the schema is not BACKWARD compatible with version ${latest.version} (id ${latest.id}) of subject ${subject}: ` +
        `a reader with it cannot read data written with the latest version (${(cause as Error).message})`,
      { retriable: false, cause, details: { subject, latestVersion: latest.version, latestId: latest.id } },
    );
  }
}
