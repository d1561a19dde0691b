/**
 * The KV layout of the projection, in one place. Every key that holds tenant data starts with the
 * tenant (entity ids do), so a scan can never cross tenants.
 *
 *   m|<entityId>                 current MemoryState (JSON)
 *   h|<entityId>|<offset>        one history entry per event (applied or rejected, with its outcome and
 *                                its `memory-events` position, where `?wait=applied` looks it up), in log order
 *   v|<entityId>                 the entity's current text embedding (model + float32 bytes)
 *   w|<partition>                KV projection watermark of a partition (enriched offset, source offset)
 *   vw|<partition>               vector indexer watermark of a partition (same shape)
 *   cw|<partition>               changelog emitter watermark of a partition (same shape)
 *   x|<expiresAt>|<entityId>     expiry index: live memories with an expiresAt, in time order
 *   kw|…                         keyword index (search/keyword-index.ts)
 */
export const stateKey = (entityId: string): string => `m|${entityId}`;
export const historyPrefix = (entityId: string): string => `h|${entityId}|`;
export const historyKey = (entityId: string, offset: number): string => `${historyPrefix(entityId)}${offset.toString().padStart(16, '0')}`;
export const embeddingKey = (entityId: string): string => `v|${entityId}`;
export const watermarkKey = (partition: number): string => `w|${partition.toString().padStart(6, '0')}`;
export const vectorWatermarkKey = (partition: number): string => `vw|${partition.toString().padStart(6, '0')}`;
export const changelogWatermarkKey = (partition: number): string => `cw|${partition.toString().padStart(6, '0')}`;
export const EXPIRY_PREFIX = 'x|';
export const expiryKey = (expiresAt: number, entityId: string): string => `${EXPIRY_PREFIX}${expiresAt.toString().padStart(15, '0')}|${entityId}`;
export const STATE_PREFIX = 'm|';

export function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

export function parseJson<T>(buf: Buffer): T {
  return JSON.parse(buf.toString('utf8')) as T;
}
