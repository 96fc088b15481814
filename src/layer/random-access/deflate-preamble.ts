/**
 * Deflate has no way to start inflating in the middle of a byte: zlib's
 * inflatePrime() does it, and Node does not expose it. Shifting the whole
 * span instead would break stored blocks, whose data must stay aligned to
 * the original bytes. So a span that starts at bit k of a byte is preceded
 * by a preamble: an empty, non-final deflate block whose length in bits is
 * k modulo 8. The preamble's last byte contains its final k bits in its low
 * bits and the span's first byte provides the high 8 - k bits, after which
 * every byte of the span is passed on unchanged.
 */

/** Order in which a dynamic block header lists the code length code lengths (RFC 1951, 3.2.7). */
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
/** Bits of the empty dynamic block below when it lists no extra code length codes. */
const BASE_PREAMBLE_BITS = 300;

/** Packs bits least significant first, as deflate does. */
export class BitWriter {
  private readonly bytes: number[] = [];
  bitLength = 0;

  /** Writes `count` bits of `value`, lowest first (header fields and extra bits). */
  bits(value: number, count: number): void {
    for (let i = 0; i < count; i++) this.bit((value >>> i) & 1);
  }

  /** Writes a Huffman code, whose bits go most significant first. */
  code(code: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) this.bit((code >>> i) & 1);
  }

  toBuffer(): Buffer {
    return Buffer.from(this.bytes);
  }

  private bit(value: number): void {
    const index = this.bitLength >>> 3;
    if (index === this.bytes.length) this.bytes.push(0);
    this.bytes[index]! |= value << (this.bitLength & 7);
    this.bitLength++;
  }
}

/**
 * Builds an empty, non-final dynamic Huffman block of 300 + 3t bits, with t
 * chosen so that the length is `k` modulo 8 (k from 1 to 7). Its
 * literal/length code gives length 8 to literals 0-254 and to end-of-block
 * (256), a complete code in which end-of-block is 11111111. Its one distance
 * code has length 0. The code lengths are sent with a code length code of
 * 8 -> "0", 0 -> "10", 16 -> "11"; the t extra entries of that code have
 * length 0, which only lengthens the header by 3 bits each.
 */
export function emptyBlockOfBitLength(k: number): { bytes: Buffer; bitLength: number } {
  const extraEntries = (3 * (k - (BASE_PREAMBLE_BITS % 8)) + 64) % 8;
  const lengthOfCodeLengthSymbol: Record<number, number> = { 16: 2, 0: 2, 8: 1 };
  const entries = 5 + extraEntries;
  const writer = new BitWriter();

  writer.bits(0, 1); // BFINAL: not the last block
  writer.bits(2, 2); // BTYPE: dynamic Huffman codes
  writer.bits(0, 5); // HLIT: 257 literal/length codes
  writer.bits(0, 5); // HDIST: 1 distance code
  writer.bits(entries - 4, 4); // HCLEN
  for (const symbol of CODE_LENGTH_ORDER.slice(0, entries)) {
    writer.bits(lengthOfCodeLengthSymbol[symbol] ?? 0, 3);
  }

  for (let literal = 0; literal < 255; literal++) writer.code(0b0, 1); // length 8
  writer.code(0b10, 2); // literal 255: length 0
  writer.code(0b0, 1); // end-of-block: length 8
  writer.code(0b10, 2); // the distance code: length 0
  writer.code(0xff, 8); // end-of-block
  if (writer.bitLength % 8 !== k) {
    const bits = writer.bitLength;
    throw new Error(`internal error: the empty block has ${bits} bits, not ${k} modulo 8`);
  }
  return { bytes: writer.toBuffer(), bitLength: writer.bitLength };
}

/**
 * Returns the bytes that stand in for the first byte of a deflate stream
 * which starts at bit `bits` (1 to 7) of `firstByte`: the preamble, with
 * the high 8 - `bits` bits of its last byte taken from `firstByte`. The
 * stream's later bytes follow them unchanged.
 */
export function preambleForByte(bits: number, firstByte: number): Buffer {
  const merged = Buffer.from(emptyBlockOfBitLength(bits).bytes);
  const lowMask = (1 << bits) - 1;
  const last = merged.length - 1;
  merged[last] = (merged[last]! & lowMask) | (firstByte & ~lowMask & 0xff);
  return merged;
}

/**
 * Yields a deflate stream that inflates like the one that starts at bit
 * `bits` (0 to 7) of the input's first byte: the preamble, then the input
 * with its first byte merged into the preamble's last byte.
 */
export async function* startAtBit(
  input: AsyncIterable<Buffer>,
  bits: number,
): AsyncGenerator<Buffer> {
  if (bits === 0) return yield* input;
  let first = true;
  for await (const chunk of input) {
    if (!first || chunk.length === 0) {
      yield chunk;
      continue;
    }
    first = false;
    yield preambleForByte(bits, chunk[0]!);
    if (chunk.length > 1) yield chunk.subarray(1);
  }
}
