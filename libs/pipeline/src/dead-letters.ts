/**
 * Poison records go to the dead-letter topic with their reason; the pipeline moves on. Nothing is
 * dropped silently: every dead letter is logged and counted.
 */
import type { EventLog, StoredRecord } from '@engram/ports';
import type { PipelineCodecs } from './codecs.js';
import type { Topics } from './topics.js';
import type { Telemetry } from './telemetry.js';

export interface DeadLetterSink {
  send(record: StoredRecord, failure: { code: string; reason: string; attempts: number }): Promise<void>;
}

export function createDeadLetterSink(deps: { log: EventLog; codecs: PipelineCodecs; topics: Topics; telemetry: Telemetry }): DeadLetterSink {
  const { log, codecs, topics, telemetry } = deps;
  return {
    async send(record, failure) {
      const value = codecs.deadLetter.encode({
        sourceTopic: record.topic,
        partition: record.partition,
        offset: record.offset,
        key: record.key,
        ...(record.value === null ? {} : { valueBytes: record.value }),
        reason: failure.reason,
        code: failure.code,
        failedAt: Date.now(),
        attempts: failure.attempts,
      });
      await log.append(topics.deadLetter, [{ key: `${record.topic}|${record.partition}|${record.offset}`, value, partition: record.partition }]);
      telemetry.metrics.deadLetters.inc({ topic: record.topic, code: failure.code });
      telemetry.logger.warn({ topic: record.topic, partition: record.partition, offset: record.offset, code: failure.code, reason: failure.reason }, 'record dead-lettered');
    },
  };
}
