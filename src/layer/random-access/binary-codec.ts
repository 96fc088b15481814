import { invalidIndexError } from "./random-access-errors.js";

/** Appends little-endian fields to a growing list of buffers. */
export class BinaryWriter {
  private readonly parts: Buffer[] = [];

  u8(value: number): void {
    this.parts.push(Buffer.of(value));
  }

  u32(value: number): void {
    const bytes = Buffer.allocUnsafe(4);
    bytes.writeUInt32LE(value, 0);
    this.parts.push(bytes);
  }

  /** Writes a non-negative safe integer (below 2^53) as 8 bytes. */
  u64(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`cannot store ${value}: expected a non-negative safe integer`);
    }
    const bytes = Buffer.allocUnsafe(8);
    bytes.writeBigUInt64LE(BigInt(value), 0);
    this.parts.push(bytes);
  }

  /** Writes a length (u32) followed by the bytes. */
  bytes(value: Buffer): void {
    this.u32(value.length);
    this.parts.push(value);
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Reads the fields that BinaryWriter wrote, throwing an invalid-index error past the end. */
export class BinaryReader {
  private position = 0;

  constructor(private readonly data: Buffer) {}

  get remaining(): number {
    return this.data.length - this.position;
  }

  u8(): number {
    return this.take(1)[0]!;
  }

  u32(): number {
    return this.take(4).readUInt32LE(0);
  }

  u64(): number {
    const value = this.take(8).readBigUInt64LE(0);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw invalidIndexError(`offset ${value} at byte ${this.position - 8} is above 2^53`);
    }
    return Number(value);
  }

  /** Reads a length-prefixed byte string into a copy, independent of the input buffer. */
  bytes(): Buffer {
    return Buffer.from(this.take(this.u32()));
  }

  private take(length: number): Buffer {
    if (length > this.remaining) {
      throw invalidIndexError(`truncated at byte ${this.position}: ${length} more bytes expected`);
    }
    const slice = this.data.subarray(this.position, this.position + length);
    this.position += length;
    return slice;
  }
}
