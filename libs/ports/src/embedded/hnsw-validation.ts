/**
 * Input checks for the embedded vector index, done before anything is written so that a rejected
 * call changes nothing. Codes are the ones every VectorIndex implementation answers with.
 */
import { ValidationError } from '@engram/core';
import type { CollectionSpec, VectorFields, VectorItem, VectorSearch } from '../vector-index.js';
import { normalizeVector } from './hnsw-vectors.js';

/** Milvus' rule for collection names; also safe as a file name for the snapshot. */
const COLLECTION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;
const MAX_DIMS = 32768;
/** Milvus' ceiling for top-k; the same bound keeps the adapters interchangeable. */
export const MAX_K = 16384;

export function checkPositiveInteger(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ValidationError('invalid_option', `${name} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

export function checkSpec(spec: CollectionSpec): Required<CollectionSpec> {
  if (typeof spec.name !== 'string' || !COLLECTION_NAME.test(spec.name)) {
    throw new ValidationError('invalid_collection_name', `collection name ${JSON.stringify(spec.name)} must match ${COLLECTION_NAME}`);
  }
  if (!Number.isSafeInteger(spec.dims) || spec.dims < 1 || spec.dims > MAX_DIMS) {
    throw new ValidationError('invalid_collection_spec', `dims must be an integer in 1..${MAX_DIMS}, got ${spec.dims}`);
  }
  if (spec.metric !== undefined && spec.metric !== 'cosine') {
    throw new ValidationError('invalid_collection_spec', `metric ${String(spec.metric)} is not supported (only cosine)`);
  }
  if (typeof spec.model !== 'string' || spec.model === '') {
    throw new ValidationError('invalid_collection_spec', 'model must be a non-empty string');
  }
  return { name: spec.name, dims: spec.dims, metric: 'cosine', model: spec.model };
}

/** With a collection name of at most 255 bytes this stays under LMDB's 1978-byte key limit. */
const MAX_ID_BYTES = 1024;

function checkId(id: unknown): string {
  if (typeof id !== 'string' || id === '') throw new ValidationError('invalid_vector_item', 'id must be a non-empty string');
  if (Buffer.byteLength(id, 'utf8') > MAX_ID_BYTES) throw new ValidationError('invalid_vector_item', `id is longer than ${MAX_ID_BYTES} UTF-8 bytes`);
  return id;
}

function checkVersion(id: string, version: unknown): number {
  if (typeof version !== 'number' || !Number.isFinite(version)) {
    throw new ValidationError('invalid_vector_item', `item ${id}: version must be a finite number`);
  }
  return version;
}

/** A clean copy: no undefined keys (they would not survive every store) and no shared arrays. */
function checkFields(id: string, fields: VectorFields): VectorFields {
  const fail = (what: string): never => {
    throw new ValidationError('invalid_vector_item', `item ${id}: ${what}`);
  };
  if (typeof fields !== 'object' || fields === null) fail('fields are missing');
  if (typeof fields.tenant !== 'string' || fields.tenant === '') fail('fields.tenant must be a non-empty string');
  if (typeof fields.namespace !== 'string') fail('fields.namespace must be a string');
  if (typeof fields.kind !== 'string') fail('fields.kind must be a string');
  if (!Array.isArray(fields.tags) || !fields.tags.every((t) => typeof t === 'string')) fail('fields.tags must be an array of strings');
  if (typeof fields.updatedAt !== 'number' || !Number.isFinite(fields.updatedAt)) fail('fields.updatedAt must be a finite number');
  const copy: VectorFields = { tenant: fields.tenant, namespace: fields.namespace, kind: fields.kind, tags: [...fields.tags], updatedAt: fields.updatedAt };
  if (fields.agentId !== undefined) copy.agentId = String(fields.agentId);
  if (fields.sessionId !== undefined) copy.sessionId = String(fields.sessionId);
  return copy;
}

/**
 * Items ready to store: fields copied, vectors unit length. The vectors are consecutive views of one
 * buffer, so the batch reaches the graph worker in one transfer (see packVectors) without a copy.
 */
export function checkItems(items: VectorItem[], dims: number): VectorItem[] {
  const vectors = new Float32Array(items.length * dims);
  return items.map((item, i) => {
    const id = checkId(item.id);
    const vector = normalizeVector(item.vector, dims, `item ${id}`, vectors.subarray(i * dims, (i + 1) * dims));
    return { id, version: checkVersion(id, item.version), fields: checkFields(id, item.fields), vector };
  });
}

export function checkDeletes(items: Array<{ id: string; version: number }>): Array<{ id: string; version: number }> {
  return items.map((item) => {
    const id = checkId(item.id);
    return { id, version: checkVersion(id, item.version) };
  });
}

/** Returns the unit query vector; the model check comes first, it is the most useful message. */
export function checkSearch(search: VectorSearch, spec: Required<CollectionSpec>): Float32Array {
  if (search.model !== spec.model) {
    throw new ValidationError('embedding_model_mismatch', `collection ${spec.name} holds vectors of model ${spec.model}, the query was embedded with ${search.model}`, {
      expected: spec.model,
      actual: search.model,
    });
  }
  if (typeof search.filter?.tenant !== 'string' || search.filter.tenant === '') {
    throw new ValidationError('tenant_required', 'every vector search must name its tenant');
  }
  if (!Number.isSafeInteger(search.k) || search.k < 1 || search.k > MAX_K) {
    throw new ValidationError('invalid_k', `k must be an integer in 1..${MAX_K}, got ${search.k}`);
  }
  return normalizeVector(search.vector, spec.dims, 'query');
}
