/**
 * The Avro contract: schemas/*.avsc, parsed into avsc types. A file may refer to a named type of
 * another file (memory-enriched → MemoryEvent, memory-state → EventMetadata); loading parses its
 * dependencies first into the same avsc registry, and the result is exported as one self-contained
 * schema (every named type defined where first used), which is what gets registered, so a reader in
 * any language that fetches it by id needs nothing else.
 */
import fs from 'node:fs';
import avro from 'avsc';
import type { Type } from 'avsc';
import { exactLongHook } from './exact-long.js';

/** The schema files in `schemas/`, by file name without `.avsc`. */
export const SCHEMA_NAMES = ['memory-event', 'memory-enriched', 'memory-state', 'dead-letter'] as const;
export type SchemaName = (typeof SCHEMA_NAMES)[number];

/** Files whose named types a schema refers to, parsed before it. */
const DEPENDENCIES: Record<SchemaName, SchemaName[]> = {
  'memory-event': [],
  'memory-enriched': ['memory-event'],
  'memory-state': ['memory-event'],
  'dead-letter': [],
};

const SCHEMA_DIR = new URL('../../../schemas/', import.meta.url);

/** An Avro schema as a JSON object (what `JSON.parse` of an .avsc file gives). */
export type AvroSchemaJson = Record<string, unknown>;

export interface LoadedSchema {
  /** The reader type codecs decode into (unions wrapped only where avsc needs it to tell branches apart). */
  type: Type;
  /** Self-contained schema with docs and defaults; its JSON text is what gets registered. */
  json: AvroSchemaJson;
  text: string;
}

const loaded = new Map<SchemaName, LoadedSchema>();

function readFile(name: SchemaName): AvroSchemaJson {
  return JSON.parse(fs.readFileSync(new URL(`${name}.avsc`, SCHEMA_DIR), 'utf8')) as AvroSchemaJson;
}

/**
 * Parse a schema the way every codec does: unions wrapped only where avsc needs it to tell branches
 * apart (so the value shapes the typed codecs map are always the same), and exact longs. `schema` is
 * parsed JSON: an object, or a string naming a primitive or registered type.
 */
export function parseAvro(schema: AvroSchemaJson | string, registry: Record<string, Type> = {}): Type {
  return avro.Type.forSchema(schema as avro.Schema, { wrapUnions: 'auto', registry, typeHook: exactLongHook });
}

/** Parse one file of `schemas/` (cached) with the files it depends on. */
export function loadSchema(name: SchemaName): LoadedSchema {
  const cached = loaded.get(name);
  if (cached !== undefined) return cached;
  const registry: Record<string, Type> = {};
  const order: SchemaName[] = [];
  const visit = (n: SchemaName): void => {
    for (const dep of DEPENDENCIES[n]) visit(dep);
    if (!order.includes(n)) order.push(n);
  };
  visit(name);
  let composed: Type | undefined;
  for (const n of order) composed = parseAvro(readFile(n), registry);
  // Re-parse the exported text alone: proves it is self-contained and gives the exact reader type
  // that matches what the registry holds.
  const json = (composed as Type).schema({ exportAttrs: true }) as AvroSchemaJson;
  const result: LoadedSchema = { type: parseAvro(json), json, text: JSON.stringify(json) };
  loaded.set(name, result);
  return result;
}
