/** BlobStore: object storage for archives. Embedded: a local directory. Distributed: GCS. */
export interface BlobStore {
  /** Writes the whole object; resolves once durable. */
  put(path: string, data: Buffer, options?: { contentType?: string }): Promise<void>;
  get(path: string): Promise<Buffer | undefined>;
  /** Object paths starting with prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  delete(path: string): Promise<void>;
  close(): Promise<void>;
}
