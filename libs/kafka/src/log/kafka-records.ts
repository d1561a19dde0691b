/** Conversions between the EventLog's records and kafkajs messages. */
import type { Message } from 'kafkajs';
import type { LogRecord, StoredRecord } from '@engram/ports';

/** What kafkajs hands a consumer (eachBatch) or a fetch: offsets and timestamps as strings. */
export interface KafkaMessageLike {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: string;
  headers?: Record<string, Buffer | string | Array<Buffer | string> | undefined>;
}

export function toKafkaMessage(record: LogRecord): Message & { partition: number } {
  return {
    key: record.key,
    value: record.value === null ? null : Buffer.from(record.value.buffer, record.value.byteOffset, record.value.byteLength),
    partition: record.partition,
    headers: record.headers,
    timestamp: String(record.timestamp ?? Date.now()),
  };
}

export function toStoredRecord(topic: string, partition: number, message: KafkaMessageLike): StoredRecord {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (value === undefined) continue;
    // A header repeated on the wire arrives as an array; the port has one value per name: the last.
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) headers[name] = last.toString();
  }
  return {
    topic,
    partition,
    offset: Number(message.offset),
    key: message.key === null ? '' : message.key.toString('utf8'),
    value: message.value,
    headers,
    timestamp: Number(message.timestamp),
  };
}
