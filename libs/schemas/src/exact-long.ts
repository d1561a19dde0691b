/**
 * An Avro `long` that is exact over the whole safe-integer range.
 *
 * avsc's built-in long switches to float arithmetic past 2^30 and computes the zigzag value
 * (2|n| - 1 for a negative n) as a double, which is not exact past 2^53: a negative long below -2^52
 * is written and read back wrong, sign included (-(2^52) - 1 comes back as +2^52). Counter deltas and
 * attributes can be such numbers, so every codec type uses this one instead. It writes the same
 * zigzag varint bytes as any Avro implementation, splitting the value so no intermediate exceeds
 * 2^53, and refuses to read a long that is not a safe integer (rather than round it).
 */
import avro from 'avsc';
import type { Type } from 'avsc';

/** The two fields of avsc's Tap that a primitive type reads and writes (stable across avsc 5.x). */
interface Tap {
  buf: Buffer;
  pos: number;
}

const LongType = avro.types.LongType as unknown as new () => Type;
const TWO_POW_27 = 134217728;

class ExactLongType extends LongType {
  _check(value: unknown, _flags: unknown, hook?: (value: unknown, type: Type) => void): boolean {
    const valid = Number.isSafeInteger(value);
    if (!valid && hook) hook(value, this);
    return valid;
  }

  // Called as `resolver._read` too (avsc copies the function), so it must not use `this`.
  _read(tap: Tap): number {
    const buf = tap.buf;
    let pos = tap.pos;
    // Past the end `buf[pos]` is undefined, which ends the loop; avsc then sees pos > length
    // and reports truncated data.
    let byte = buf[pos++] as number;
    let low = byte & 0x7f;
    let shift = 7;
    while (byte & 0x80 && shift < 28) {
      byte = buf[pos++] as number;
      low |= (byte & 0x7f) << shift;
      shift += 7;
    }
    if (!(byte & 0x80)) {
      tap.pos = pos;
      return (low >>> 1) ^ -(low & 1);
    }
    // The zigzag value is high * 2^28 + low; its half is exact while it is a safe integer.
    let high = 0;
    let scale = 1;
    do {
      byte = buf[pos++] as number;
      high += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte & 0x80);
    tap.pos = pos;
    const half = high * TWO_POW_27 + (low >>> 1);
    const value = low & 1 ? -half - 1 : half;
    if (!Number.isSafeInteger(value)) throw new Error('a long beyond the safe integer range would lose precision');
    return value;
  }

  _write(tap: Tap, value: number): void {
    if (!Number.isSafeInteger(value)) throw new Error(`invalid "long": ${String(value)}`);
    const buf = tap.buf;
    let pos = tap.pos;
    // Bytes past the end of buf are dropped by the typed array; avsc sees pos > length and
    // retries with a larger buffer.
    if (value >= -1073741824 && value < 1073741824) {
      let zigzag = value >= 0 ? value << 1 : (~value << 1) | 1;
      while (zigzag > 0x7f) {
        buf[pos++] = (zigzag & 0x7f) | 0x80;
        zigzag >>>= 7;
      }
      buf[pos++] = zigzag;
    } else {
      // zigzag = 2 * magnitude + sign; its first 7 bits are the magnitude's low 6 bits and the sign.
      const magnitude = value >= 0 ? value : -value - 1;
      buf[pos++] = ((magnitude % 64) << 1) | (value >= 0 ? 0 : 1) | 0x80;
      let rest = Math.floor(magnitude / 64);
      while (rest > 0x7f) {
        buf[pos++] = (rest % 128) | 0x80;
        rest = Math.floor(rest / 128);
      }
      buf[pos++] = rest;
    }
    tap.pos = pos;
  }
}

const EXACT_LONG: Type = new ExactLongType();

/** avsc `typeHook` that puts the exact long in place of every `long`. */
export function exactLongHook(schema: unknown): Type | undefined {
  if (schema === 'long') return EXACT_LONG;
  if (typeof schema === 'object' && schema !== null && (schema as { type?: unknown }).type === 'long' && !('logicalType' in schema)) return EXACT_LONG;
  return undefined;
}
