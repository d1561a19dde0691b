/** UTF-8 helpers shared by the id and size checks. */

const encoder = new TextEncoder();

/** The UTF-8 bytes of `text` (lone surrogates become U+FFFD, as TextEncoder and Java both do). */
export function utf8Bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/**
 * The UTF-8 byte length of `text` without allocating the bytes: limits are checked on every event,
 * and values can be up to the body size.
 */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4; // a surrogate pair is one 4-byte code point
        i++;
      } else bytes += 3; // lone high surrogate → U+FFFD
    } else bytes += 3; // BMP code point, or a lone surrogate encoded as U+FFFD
  }
  return bytes;
}

/**
 * The UTF-8 byte length of `text` when it is more than `maxBytes`, else undefined. A UTF-16 code
 * unit is at most 3 bytes of UTF-8, so a text of at most maxBytes / 3 units fits whatever it holds
 * and is not counted: the limit checks run on every event, and counting a ~300-character value
 * took ~1 µs.
 */
export function utf8BytesOver(text: string, maxBytes: number): number | undefined {
  if (text.length * 3 <= maxBytes) return undefined;
  const bytes = utf8ByteLength(text);
  return bytes > maxBytes ? bytes : undefined;
}
