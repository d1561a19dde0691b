/**
 * Values in the Confluent wire format: magic byte 0, the writer schema id as a 4-byte big-endian
 * int, then Avro binary. The schema is registered under `<topic>-value` at first use; records
 * written with any registered version are resolved to the codec's reader schema, so old records stay
 * readable after a BACKWARD-compatible evolution.
 */
import type { Resolver, Type } from 'avsc';
import { EngramError } from '@engram/core';
import type { SchemaRegistry } from '@engram/ports';
import { loadSchema, parseAvro } from './schema-files.js';
import type { AvroSchemaJson, SchemaName } from './schema-files.js';

const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;

export interface EventCodecOptions<T> {
  /** Topic the values are written to; the schema is registered under `<topic>-value`. */
  topic: string;
  /** A file of `schemas/`, or a self-contained Avro schema (for a new version, or a test). */
  schema: SchemaName | AvroSchemaJson;
  /**
   * Maps a value to its Avro shape (avsc's: records as objects, wrapped unions as `{branch: value}`).
   * @default the identity
   */
  toAvro?: (value: T) => unknown;
  /**
   * Maps a decoded Avro value back; a throw here makes the record undecodable.
   * @default the identity
   */
  fromAvro?: (avro: never) => T;
}

export interface EventCodec<T> {
  /** `<topic>-value`. */
  readonly subject: string;
  /** Register the reader schema (once; retried after a failure) and answer its id. */
  ready(): Promise<number>;
  encode(value: T): Promise<Buffer>;
  /** Fetches an unknown writer schema by id (cached), then decodes. */
  decode(buf: Buffer): Promise<T>;
  /** For hot loops once `ready()` resolved; throws `codec_not_ready` before. */
  encodeSync(value: T): Buffer;
  /**
   * For hot loops: decodes when the record's writer schema is known (the codec's own after
   * `ready()`, or one a previous `decode` fetched); otherwise throws `writer_schema_not_loaded`.
   */
  decodeSync(buf: Buffer): T;
  /**
   * Decodes to the Avro shape, without `fromAvro` (fetching an unknown writer schema like `decode`).
   * `body` (the bytes after the wire-format header) is there when the writer schema is the reader's,
   * so the body is valid reader-schema Avro that another value may embed as is (enriched-splice.ts).
   */
  decodeAvro(buf: Buffer): Promise<{ avro: unknown; body?: Buffer }>;
  /** The wire-format value whose Avro body is `parts` one after the other (each already reader-schema Avro). */
  wrap(parts: Buffer[]): Buffer;
}

function undecodable(topic: string, message: string, cause?: unknown, schemaId?: number): EngramError {
  return new EngramError('undecodable_record', `undecodable record on ${topic}: ${message}`, {
    retriable: false,
    cause,
    details: schemaId === undefined ? { topic } : { topic, schemaId },
  });
}

/** Create a codec for one topic and schema. */
export function createEventCodec<T = unknown>(registry: SchemaRegistry, options: EventCodecOptions<T>): EventCodec<T> {
  const { topic } = options;
  const subject = `${topic}-value`;
  const source = typeof options.schema === 'string' ? loadSchema(options.schema) : undefined;
  const readerJson = source?.json ?? (options.schema as AvroSchemaJson);
  const reader: Type = source?.type ?? parseAvro(readerJson);
  const readerText = source?.text ?? JSON.stringify(reader.schema({ exportAttrs: true }));
  const readerFingerprint = reader.fingerprint().toString('hex');
  const toAvro = options.toAvro ?? ((value: T) => value);
  const fromAvro = (options.fromAvro ?? ((value: unknown) => value as T)) as (avro: unknown) => T;

  /** Writer id → resolver; null when the writer schema is the reader's (no resolution needed). */
  const resolvers = new Map<number, Resolver | null>();
  const loading = new Map<number, Promise<void>>();
  let registering: Promise<number> | undefined;
  let header: Buffer | undefined;
  let scratch = Buffer.allocUnsafe(8192);

  function ready(): Promise<number> {
    registering ??= registry.register(subject, readerText).then(
      (registered) => {
        header = Buffer.alloc(HEADER_BYTES);
        header.writeUInt8(MAGIC_BYTE, 0);
        header.writeInt32BE(registered.id, 1);
        resolvers.set(registered.id, null);
        return registered.id;
      },
      (error: unknown) => {
        registering = undefined;
        throw error;
      },
    );
    return registering;
  }

  function encodeSync(value: T): Buffer {
    if (header === undefined) throw new EngramError('codec_not_ready', `the ${subject} codec is not ready: await ready() first`);
    let avroValue: unknown;
    let end: number;
    try {
      avroValue = toAvro(value);
      // Encode straight after the header in a reused buffer: one copy per record.
      end = reader.encode(avroValue, scratch, HEADER_BYTES);
      if (end < 0) {
        scratch = Buffer.allocUnsafe(Math.max(scratch.length * 2, scratch.length - end));
        end = reader.encode(avroValue, scratch, HEADER_BYTES);
      }
    } catch (cause) {
      throw new EngramError('unencodable_record', `a value for ${subject} does not fit its schema: ${(cause as Error).message}`, { cause });
    }
    header.copy(scratch, 0);
    const out = Buffer.allocUnsafe(end);
    scratch.copy(out, 0, 0, end);
    return out;
  }

  function schemaIdOf(buf: Buffer): number {
    if (!Buffer.isBuffer(buf)) throw undecodable(topic, 'the value is not a Buffer');
    if (buf.length < HEADER_BYTES) throw undecodable(topic, `${buf.length} bytes is shorter than the wire-format header`);
    if (buf[0] !== MAGIC_BYTE) throw undecodable(topic, `magic byte is ${buf[0]}, expected ${MAGIC_BYTE}`);
    return buf.readInt32BE(1);
  }

  /** The Avro value of `buf`, and whether its writer schema is the reader's. */
  function decodeAvroSync(buf: Buffer): { avro: unknown; native: boolean; id: number } {
    const id = schemaIdOf(buf);
    const resolver = resolvers.get(id);
    if (resolver === undefined) {
      throw new EngramError('writer_schema_not_loaded', `schema ${id} of a ${topic} record is not loaded: use decode()`, { details: { topic, schemaId: id } });
    }
    try {
      const { value, offset } = reader.decode(buf, HEADER_BYTES, resolver ?? undefined);
      if (offset < 0) throw new Error('truncated data');
      if (offset !== buf.length) throw new Error(`${buf.length - offset} bytes of trailing data`);
      return { avro: value, native: resolver === null, id };
    } catch (cause) {
      throw undecodable(topic, (cause as Error).message, cause, id);
    }
  }

  function decodeSync(buf: Buffer): T {
    const { avro, id } = decodeAvroSync(buf);
    try {
      return fromAvro(avro);
    } catch (cause) {
      throw undecodable(topic, (cause as Error).message, cause, id);
    }
  }

  /** Loads the writer schema of `buf` unless it is known already. */
  async function loadWriterOf(buf: Buffer): Promise<void> {
    const id = schemaIdOf(buf);
    if (resolvers.has(id)) return;
    let pending = loading.get(id);
    if (pending === undefined) {
      pending = loadWriter(id).finally(() => loading.delete(id));
      loading.set(id, pending);
    }
    await pending;
  }

  async function loadWriter(id: number): Promise<void> {
    let writerText: string;
    try {
      writerText = (await registry.getById(id)).schema;
    } catch (error) {
      // A registry that is down is worth retrying; a schema id it does not know is not.
      if (error instanceof EngramError && error.retriable) throw error;
      throw undecodable(topic, `schema id ${id} is unknown to the registry`, error, id);
    }
    try {
      const writer = parseAvro(JSON.parse(writerText) as AvroSchemaJson);
      resolvers.set(id, writer.fingerprint().toString('hex') === readerFingerprint ? null : reader.createResolver(writer));
    } catch (cause) {
      throw undecodable(topic, `schema ${id} cannot be read as the ${subject} reader schema: ${(cause as Error).message}`, cause, id);
    }
  }

  return {
    subject,
    ready,
    async encode(value) {
      await ready();
      return encodeSync(value);
    },
    async decode(buf) {
      await loadWriterOf(buf);
      return decodeSync(buf);
    },
    encodeSync,
    decodeSync,
    async decodeAvro(buf) {
      await loadWriterOf(buf);
      const { avro, native } = decodeAvroSync(buf);
      return native ? { avro, body: buf.subarray(HEADER_BYTES) } : { avro };
    },
    wrap(parts) {
      if (header === undefined) throw new EngramError('codec_not_ready', `the ${subject} codec is not ready: await ready() first`);
      return Buffer.concat([header, ...parts]);
    },
  };
}
