/**
 * Validation shared by every EventLog adapter (embedded LMDB, Kafka), so both refuse the same
 * input with the same codes: names, partitions, offsets, records and topic specs.
 */
import { ValidationError } from '@engram/core';
import type { LogRecord, PartitionOffset, TopicSpec } from './event-log.js';

/** A topic's shape as an adapter knows it (from its own store or the broker's metadata). */
export interface TopicShape {
  partitions: number;
  compacted: boolean;
  replicationFactor: number;
}

/** Kafka's limit (249 characters); U+0000 is refused because the LMDB log delimits keys with it. */
const NAME = /^[^\0]{1,249}$/;

export function checkName(kind: 'topic' | 'group', name: string): void {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new ValidationError(`invalid_${kind}_name`, `${kind} name must be 1-249 characters without U+0000`, { [kind]: name });
  }
}

export function checkPartition(topic: string, spec: TopicShape, partition: number): void {
  if (!Number.isInteger(partition) || partition < 0 || partition >= spec.partitions) {
    throw new ValidationError(
      'invalid_partition',
      `partition ${partition} is out of range for topic ${topic} (${spec.partitions} partitions)`,
      { topic, partition, partitions: spec.partitions },
    );
  }
}

export function checkOffsets(topic: string, spec: TopicShape, offsets: PartitionOffset[]): void {
  for (const { partition, offset } of offsets) {
    checkPartition(topic, spec, partition);
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new ValidationError('invalid_offset', `offset ${offset} must be a non-negative integer`, { topic, partition, offset });
    }
  }
}

/** The differences between an existing topic and a requested spec, in words ([] when they match). */
export function specDifferences(existing: TopicShape, spec: TopicSpec): string[] {
  const diffs: string[] = [];
  if (existing.partitions !== spec.partitions) diffs.push(`partitions ${existing.partitions} (requested ${spec.partitions})`);
  if (existing.compacted !== spec.compacted) diffs.push(`compacted ${existing.compacted} (requested ${spec.compacted})`);
  return diffs;
}

/** One record of an append; `index` is its position in the batch, for the message. */
export function checkRecord(topic: string, spec: TopicShape, record: LogRecord, index: number): void {
  if (record === null || typeof record !== 'object') throw badRecord(topic, index, 'not an object');
  if (typeof record.key !== 'string') throw badRecord(topic, index, 'key must be a string');
  if (record.value !== null && !(record.value instanceof Uint8Array)) throw badRecord(topic, index, 'value must be a Buffer or null');
  if (record.timestamp !== undefined && !Number.isFinite(record.timestamp)) throw badRecord(topic, index, 'timestamp must be a finite number');
  if (record.headers !== undefined) {
    if (record.headers === null || typeof record.headers !== 'object') throw badRecord(topic, index, 'headers must be an object');
    for (const v of Object.values(record.headers)) if (typeof v !== 'string') throw badRecord(topic, index, 'header values must be strings');
  }
  checkPartition(topic, spec, record.partition);
}

// A function of the module, not a closure made per record: every record of every append is checked.
function badRecord(topic: string, index: number, why: string): ValidationError {
  return new ValidationError('invalid_record', `record ${index} for topic ${topic}: ${why}`, { topic, index });
}

/** A requested topic spec, with its defaults filled in. */
export function checkTopicSpec(spec: TopicSpec): TopicShape {
  checkName('topic', spec.name);
  if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
    throw new ValidationError('invalid_topic_spec', `topic ${spec.name}: partitions must be a positive integer`, { topic: spec.name });
  }
  if (typeof spec.compacted !== 'boolean') {
    throw new ValidationError('invalid_topic_spec', `topic ${spec.name}: compacted must be a boolean`, { topic: spec.name });
  }
  return { partitions: spec.partitions, compacted: spec.compacted, replicationFactor: spec.replicationFactor ?? 1 };
}
