/**
 * SchemaRegistry: Avro schemas by subject with stable ids (Confluent's model). Embedded: LMDB, with
 * the same ids and wire format, so data moves between modes. Distributed: a Confluent-API registry.
 */
export interface RegisteredSchema {
  id: number;
  subject: string;
  version: number;
  /** The schema as canonical JSON text. */
  schema: string;
}

export interface SchemaRegistry {
  /**
   * Register a schema under a subject, or return the existing id when the same schema is already
   * there. A schema that breaks BACKWARD compatibility with the subject's latest version is refused
   * with an EngramError of code `schema_incompatible`.
   */
  register(subject: string, schema: string): Promise<RegisteredSchema>;
  getById(id: number): Promise<RegisteredSchema>;
  getLatest(subject: string): Promise<RegisteredSchema | undefined>;
  close(): Promise<void>;
}
