/**
 * The enrichment worker is the sequencer (DESIGN.md section 3): it reads `memory-events` in partition
 * order, embeds texts, and appends each event exactly once to `memory-enriched` — deduplicated by
 * record key and with its consumer offsets committed in the same atomic append, so a crash anywhere
 * neither loses nor doubles an event.
 *
 * An embedding failure is retried with backoff; after that the event still goes on (stored and
 * keyword-searchable, with `enrichmentError`) and a dead letter records why.
 *
 * The event itself is passed on as the bytes it arrived in (codecs.sequencer, libs/schemas
 * enriched-splice.ts): the worker reads only its text and vectors, and encodes only its own fields.
 */
import { isEngramError, type Embedding } from '@engram/core';
import type { EnrichmentFields, SequencedEvent } from '@engram/schemas';
import type { Embedder, EventLog, LogConsumer, StoredRecord } from '@engram/ports';
import type { PipelineCodecs } from '../codecs.js';
import { nextOffsets, startConsumerLoop, type ConsumerLoop } from '../consumer-loop.js';
import type { DeadLetterSink } from '../dead-letters.js';
import type { Telemetry } from '../telemetry.js';
import type { Topics } from '../topics.js';
import { clientEmbedding } from '../projection/vector-collections.js';

export interface EnrichmentWorkerOptions {
  log: EventLog;
  embedder: Embedder;
  codecs: PipelineCodecs;
  topics: Topics;
  deadLetters: DeadLetterSink;
  telemetry: Telemetry;
  /** @default 'engram-enrichment' */
  group?: string;
  /** Embedding attempts before giving up on a batch's texts. @default 3 */
  embedAttempts?: number;
  /** @default 200 */
  embedBackoffMs?: number;
  /** Most texts in one embed call (N of "up to N texts or T ms"); a batch with more texts makes several calls. @default 256 */
  maxBatch?: number;
  /**
   * Most records sequenced in one batch, i.e. one append to `memory-enriched` (at least `maxBatch`).
   * Events without text cost no embedding, and the batch's durable append is one commit cycle of the
   * log, shared with ingest's appends: with too few records per cycle the sequencer would fall behind
   * a sustained ingest however much CPU it had (docs/decisions.md, "A sequencing batch is up to 1,000 records").
   * @default 1000
   */
  maxRecords?: number;
  /** T: how long to wait for a batch to fill once its first record arrived (consumer-loop `lingerMs`). @default 0 */
  lingerMs?: number;
}

/** Records per sequencing batch unless told otherwise (EnrichmentWorkerOptions.maxRecords). */
export const ENRICHMENT_BATCH_RECORDS = 1000;

export function startEnrichmentWorker(options: EnrichmentWorkerOptions): ConsumerLoop {
  const group = options.group ?? 'engram-enrichment';
  const consumer: LogConsumer = options.log.consumer({ group, topic: options.topics.events });
  const enrich = createEnricher(options, group, consumer);
  return startConsumerLoop({
    name: 'enrichment',
    consumer,
    handle: enrich,
    deadLetters: options.deadLetters,
    telemetry: options.telemetry,
    maxRecords: Math.max(options.maxRecords ?? ENRICHMENT_BATCH_RECORDS, options.maxBatch ?? 256),
    lingerMs: options.lingerMs ?? 0,
    commitAfterHandle: false,
  });
}

export function createEnricher(options: EnrichmentWorkerOptions, group: string, consumer: LogConsumer): (records: StoredRecord[]) => Promise<void> {
  const { codecs, topics, embedder, telemetry } = options;
  const attempts = options.embedAttempts ?? 3;
  const backoff = options.embedBackoffMs ?? 200;
  const maxTexts = options.maxBatch ?? 256;

  async function embedWithRetry(texts: string[]): Promise<Float32Array[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await embedder.embed(texts);
      } catch (error) {
        if (attempt >= attempts) throw error;
        await new Promise((r) => setTimeout(r, backoff * 2 ** (attempt - 1)));
      }
    }
  }

  return async (records) => {
    const items: Array<{ record: StoredRecord; event: SequencedEvent }> = [];
    for (const record of records) {
      if (record.value === null) continue;
      try {
        items.push({ record, event: await codecs.sequencer.read(record.value) });
      } catch (error) {
        await options.deadLetters.send(record, { code: isEngramError(error) ? error.code : 'undecodable_record', reason: (error as Error).message, attempts: 1 });
      }
    }

    const toEmbed = items.filter(({ event }) => event.type !== 'MemoryDeleted' && event.text !== undefined && event.text !== '');
    // Up to maxBatch texts per embed call; a call that fails for good fails only its own texts.
    const textVector = new Map<SequencedEvent, Float32Array>();
    const failed = new Map<SequencedEvent, Error>();
    for (let start = 0; start < toEmbed.length; start += maxTexts) {
      const chunk = toEmbed.slice(start, start + maxTexts);
      try {
        const vectors = await embedWithRetry(chunk.map(({ event }) => event.text!));
        chunk.forEach(({ event }, i) => textVector.set(event, vectors[i]!));
        telemetry.metrics.embeddings.inc({ result: 'ok' }, chunk.length);
      } catch (error) {
        for (const { event } of chunk) failed.set(event, error as Error);
        telemetry.metrics.embeddings.inc({ result: 'failed' }, chunk.length);
      }
    }

    const out = items.map(({ record, event }) => {
      const embeddings: Embedding[] = [];
      const vector = textVector.get(event);
      if (vector) embeddings.push({ modality: 'text', model: embedder.model.id, revision: embedder.model.revision, dims: embedder.model.dims, vector });
      for (const [modality, values] of Object.entries(event.vectors ?? {})) embeddings.push(clientEmbedding(modality, values));
      const fields: EnrichmentFields = { source: { partition: record.partition, offset: record.offset }, embeddings };
      const failure = failed.get(event);
      if (failure) fields.enrichmentError = failure.message;
      return { key: record.key, partition: record.partition, value: codecs.sequencer.enriched(event, fields), headers: record.headers };
    });

    const offsets = nextOffsets(records);
    if (out.length > 0) {
      await options.log.append(topics.enriched, out, { dedupe: true, commit: { group, topic: topics.events, offsets } });
    } else {
      await consumer.commit(offsets);
    }
    for (const { record, event } of toEmbed) {
      const failure = failed.get(event);
      if (failure) await options.deadLetters.send(record, { code: 'embedding_failed', reason: failure.message, attempts });
    }
  };
}
