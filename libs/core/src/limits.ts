/**
 * Size limits enforced on everything that arrives over HTTP. They exist so that one client cannot
 * make the log, the projections or the embedder do unbounded work; a request over a limit is
 * rejected whole (413/400 at the HTTP edge) and nothing of it is stored.
 */
export interface Limits {
  /**
   * Largest accepted request body, in bytes.
   * @default 1048576 (1 MiB)
   */
  maxBodyBytes: number;
  /**
   * Most events in one `POST /v1/events` batch.
   * @default 1000
   */
  maxBatchSize: number;
  /**
   * Largest `value` (MemoryWritten) or `patch` (MemoryPatched), measured as the UTF-8 byte length of
   * its JSON serialisation.
   * @default 262144 (256 KiB)
   */
  maxValueBytes: number;
  /**
   * Longest `text`, in UTF-16 code units (JavaScript string length).
   * @default 32768
   */
  maxTextLength: number;
  /**
   * Longest entity key, in UTF-8 bytes.
   * @default 512
   */
  maxKeyLength: number;
  /**
   * Longest namespace (all segments and separators), in UTF-8 bytes.
   * @default 512
   */
  maxNamespaceLength: number;
  /**
   * Most tags on one event.
   * @default 64
   */
  maxTags: number;
  /**
   * Longest tag, in characters.
   * @default 128
   */
  maxTagLength: number;
  /**
   * Most set elements in one SetElementsAdded / SetElementsRemoved event.
   * @default 1000
   */
  maxElements: number;
  /**
   * Most metadata attributes on one event.
   * @default 64
   */
  maxAttributes: number;
  /**
   * Client-supplied vector modalities and their dimensions, e.g. `{ image: 512 }`. A modality that is
   * not listed is rejected, because each modality needs its own configured index.
   * @default {} (no client vectors accepted)
   */
  vectorDims: Record<string, number>;
}

export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxBodyBytes: 1024 * 1024,
  maxBatchSize: 1000,
  maxValueBytes: 256 * 1024,
  maxTextLength: 32768,
  maxKeyLength: 512,
  maxNamespaceLength: 512,
  maxTags: 64,
  maxTagLength: 128,
  maxElements: 1000,
  maxAttributes: 64,
  vectorDims: Object.freeze({}) as Record<string, number>,
});
