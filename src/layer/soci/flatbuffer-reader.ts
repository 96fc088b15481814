/**
 * A bounds-checked reader for FlatBuffers (https://flatbuffers.dev/internals/),
 * written for input from a registry. Every offset, length and element count
 * is checked against the buffer before it is followed, and a vector's count
 * is checked against the bytes it needs before anything is allocated.
 * Reading never recurses, so the input cannot drive the stack depth.
 *
 * Layout recap: the buffer starts with a uint32 offset of the root table. A
 * table starts with an int32 that locates its vtable at (table - value). A
 * vtable is uint16 values: its own size in bytes, the table's inline size,
 * then one offset per field slot, counted from the table start, 0 when the
 * field is absent. Strings and vectors are reached by uint32 offsets counted
 * from where the offset is stored, and start with a uint32 length. A string
 * ends with a NUL byte that the length does not count.
 */
import { ZtocError } from "./ztoc-error.js";

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** Largest value of the high 32 bits of an int64 that keeps it at or below Number.MAX_SAFE_INTEGER. */
const MAX_SAFE_HIGH_WORD = 0x1f_ffff;

export interface FlatBufferLimits {
  /**
   * Maximum bytes of tables, strings and vector elements read in total. A
   * FlatBuffer may share one object between many references, so a small
   * buffer can describe far more data than it holds, and this bounds that.
   */
  maxReadBytes: number;
}

/** A FlatBuffer and the bounds of what has been read from it so far. */
export class FlatBuffer {
  /** One past the last byte of every table, vtable, string and vector read so far. */
  extent = 0;
  private readBytes = 0;

  constructor(
    readonly bytes: Buffer,
    private readonly limits: FlatBufferLimits,
  ) {}

  /** Returns the root table, `name` being the table's name in error messages. */
  root(name: string): Table {
    if (this.bytes.length < 4) {
      throw new ZtocError(`the buffer has ${this.bytes.length} bytes, too few for the root table offset`);
    }
    this.extent = Math.max(this.extent, 4);
    const position = this.bytes.readUInt32LE(0);
    if (position === 0 || position > this.bytes.length - 4) {
      throw new ZtocError(`${name}: root table offset ${position} is outside the ${this.bytes.length}-byte buffer`);
    }
    return this.tableAt(position, name);
  }

  /** Returns the table at byte `position`, after checking its vtable. */
  tableAt(position: number, path: string): Table {
    const length = this.bytes.length;
    if (position > length - 4) {
      throw new ZtocError(`${path}: table at byte ${position} is outside the ${length}-byte buffer`);
    }
    const vtable = position - this.bytes.readInt32LE(position);
    if (vtable < 0 || vtable > length - 4) {
      throw new ZtocError(`${path}: vtable at byte ${vtable} of the table at byte ${position} is outside the ${length}-byte buffer`);
    }
    const vtableSize = this.bytes.readUInt16LE(vtable);
    const inlineSize = this.bytes.readUInt16LE(vtable + 2);
    if (vtableSize < 4 || vtableSize % 2 !== 0 || vtable + vtableSize > length) {
      throw new ZtocError(`${path}: invalid vtable size ${vtableSize} at byte ${vtable} of the ${length}-byte buffer`);
    }
    if (inlineSize < 4 || position + inlineSize > length) {
      throw new ZtocError(`${path}: table size ${inlineSize} at byte ${position} runs past the end of the ${length}-byte buffer`);
    }
    this.charge(inlineSize, path);
    this.extent = Math.max(this.extent, position + inlineSize, vtable + vtableSize);
    return new Table(this, path, position, vtable, vtableSize, inlineSize);
  }

  /** Returns the bytes of the string at byte `position`, without its NUL terminator. */
  stringAt(position: number, path: string): Buffer {
    const end = this.stringEnd(position, path);
    return this.bytes.subarray(position + 4, end);
  }

  /** Returns the string at byte `position` as text. It must be valid UTF-8 without NUL. */
  textAt(position: number, path: string): string {
    const end = this.stringEnd(position, path);
    return decodeText(this.bytes, position + 4, end, path);
  }

  /** Returns the string at byte `position` as Latin-1 text, for fields that are checked afterwards. */
  latin1At(position: number, path: string): string {
    const end = this.stringEnd(position, path);
    return this.bytes.toString("latin1", position + 4, end);
  }

  /** Checks the string at byte `position` and returns where its bytes end, at the NUL terminator. */
  private stringEnd(position: number, path: string): number {
    const length = this.bytes.length;
    if (position > length - 4) {
      throw new ZtocError(`${path}: string at byte ${position} is outside the ${length}-byte buffer`);
    }
    const size = this.bytes.readUInt32LE(position);
    if (size > length - position - 5) {
      throw new ZtocError(`${path}: string of ${size} bytes at byte ${position} runs past the end of the ${length}-byte buffer`);
    }
    const end = position + 4 + size;
    if (this.bytes[end] !== 0) {
      throw new ZtocError(`${path}: string at byte ${position} is not NUL-terminated`);
    }
    this.charge(size, path);
    this.extent = Math.max(this.extent, end + 1);
    return end;
  }

  /** Returns the element count and first element's position of the vector at byte `position`. */
  vectorAt(position: number, elementSize: number, path: string): { count: number; start: number } {
    const length = this.bytes.length;
    if (position > length - 4) {
      throw new ZtocError(`${path}: vector at byte ${position} is outside the ${length}-byte buffer`);
    }
    const count = this.bytes.readUInt32LE(position);
    const start = position + 4;
    if (count > (length - start) / elementSize) {
      const needed = `${count * elementSize} bytes`;
      throw new ZtocError(`${path}: vector of ${count} elements at byte ${position} needs ${needed}, past the end of the ${length}-byte buffer`);
    }
    this.charge(count * elementSize, path);
    this.extent = Math.max(this.extent, start + count * elementSize);
    return { count, start };
  }

  /** Returns the position that the uint32 offset stored at byte `position` points to. */
  followOffset(position: number, path: string): number {
    const offset = this.bytes.readUInt32LE(position);
    const target = position + offset;
    if (offset === 0 || target > this.bytes.length - 4) {
      throw new ZtocError(`${path}: offset ${offset} at byte ${position} points outside the ${this.bytes.length}-byte buffer`);
    }
    return target;
  }

  private charge(bytes: number, path: string): void {
    this.readBytes += bytes;
    if (this.readBytes > this.limits.maxReadBytes) {
      const limit = this.limits.maxReadBytes;
      throw new ZtocError(`${path}: more than ${limit} bytes read from a ${this.bytes.length}-byte buffer, so objects are shared more than a zTOC writer shares them`);
    }
  }
}

/** One table of a FlatBuffer. Fields are addressed by slot, their order in the schema, from 0. */
export class Table {
  constructor(
    private readonly buffer: FlatBuffer,
    readonly path: string,
    private readonly position: number,
    private readonly vtable: number,
    private readonly vtableSize: number,
    private readonly inlineSize: number,
  ) {}

  int8(slot: number, field: string, defaultValue: number): number {
    const position = this.fieldPosition(slot, 1, field);
    return position === undefined ? defaultValue : this.buffer.bytes.readInt8(position);
  }

  int32(slot: number, field: string): number {
    const position = this.fieldPosition(slot, 4, field);
    return position === undefined ? 0 : this.buffer.bytes.readInt32LE(position);
  }

  uint32(slot: number, field: string): number {
    const position = this.fieldPosition(slot, 4, field);
    return position === undefined ? 0 : this.buffer.bytes.readUInt32LE(position);
  }

  /** Reads an int64 field, which must be between 0 and Number.MAX_SAFE_INTEGER. */
  safeInt64(slot: number, field: string): number {
    const position = this.fieldPosition(slot, 8, field);
    if (position === undefined) return 0;
    const bytes = this.buffer.bytes;
    const high = bytes.readInt32LE(position + 4);
    if (high < 0 || high > MAX_SAFE_HIGH_WORD) {
      const value = bytes.readBigInt64LE(position);
      throw new ZtocError(`${this.path}.${field} is ${value}: expected 0 to ${Number.MAX_SAFE_INTEGER}`);
    }
    return high * 2 ** 32 + bytes.readUInt32LE(position);
  }

  /** Returns the raw bytes of a string field, or undefined when it is absent. */
  stringBytes(slot: number, field: string): Buffer | undefined {
    const target = this.offsetField(slot, field);
    return target === undefined ? undefined : this.buffer.stringAt(target, `${this.path}.${field}`);
  }

  /** Returns a string field's bytes as Latin-1 text, without checks, or undefined when absent. */
  latin1(slot: number, field: string): string | undefined {
    const target = this.offsetField(slot, field);
    return target === undefined ? undefined : this.buffer.latin1At(target, `${this.path}.${field}`);
  }

  /** Returns a string field as text, "" when absent. It must be valid UTF-8 without NUL. */
  text(slot: number, field: string): string {
    const target = this.offsetField(slot, field);
    return target === undefined ? "" : this.buffer.textAt(target, `${this.path}.${field}`);
  }

  table(slot: number, field: string): Table | undefined {
    const target = this.offsetField(slot, field);
    return target === undefined ? undefined : this.buffer.tableAt(target, `${this.path}.${field}`);
  }

  /** Returns a vector of tables, or undefined when the field is absent. */
  tableVector(slot: number, field: string): TableVector | undefined {
    const target = this.offsetField(slot, field);
    if (target === undefined) return undefined;
    const path = `${this.path}.${field}`;
    const { count, start } = this.buffer.vectorAt(target, 4, path);
    return new TableVector(this.buffer, path, count, start);
  }

  /** Returns a vector of strings, or undefined when the field is absent. */
  stringVector(slot: number, field: string): StringVector | undefined {
    const target = this.offsetField(slot, field);
    if (target === undefined) return undefined;
    const path = `${this.path}.${field}`;
    const { count, start } = this.buffer.vectorAt(target, 4, path);
    return new StringVector(this.buffer, path, count, start);
  }

  /** Returns a [ubyte] vector as a view into the buffer, or undefined when absent. */
  byteVector(slot: number, field: string): Buffer | undefined {
    const target = this.offsetField(slot, field);
    if (target === undefined) return undefined;
    const { count, start } = this.buffer.vectorAt(target, 1, `${this.path}.${field}`);
    return this.buffer.bytes.subarray(start, start + count);
  }

  /** Returns the position of a field's inline value, or undefined when the field is absent. */
  private fieldPosition(slot: number, size: number, field: string): number | undefined {
    const entry = 4 + 2 * slot;
    if (entry + 2 > this.vtableSize) return undefined;
    const offset = this.buffer.bytes.readUInt16LE(this.vtable + entry);
    if (offset === 0) return undefined;
    if (offset < 4 || offset + size > this.inlineSize) {
      throw new ZtocError(`${this.path}.${field}: field offset ${offset} is outside the table's ${this.inlineSize} bytes at byte ${this.position}`);
    }
    return this.position + offset;
  }

  private offsetField(slot: number, field: string): number | undefined {
    const position = this.fieldPosition(slot, 4, field);
    return position === undefined ? undefined : this.buffer.followOffset(position, `${this.path}.${field}`);
  }
}

export class TableVector {
  constructor(
    private readonly buffer: FlatBuffer,
    readonly path: string,
    readonly length: number,
    private readonly start: number,
  ) {}

  at(index: number): Table {
    const path = `${this.path}[${index}]`;
    const target = this.buffer.followOffset(this.start + 4 * index, path);
    return this.buffer.tableAt(target, path);
  }
}

export class StringVector {
  constructor(
    private readonly buffer: FlatBuffer,
    readonly path: string,
    readonly length: number,
    private readonly start: number,
  ) {}

  /** Returns element `index` as text. It must be valid UTF-8 without NUL. */
  text(index: number): string {
    const path = `${this.path}[${index}]`;
    const target = this.buffer.followOffset(this.start + 4 * index, path);
    return this.buffer.textAt(target, path);
  }
}

/** Decodes bytes [start, end) as UTF-8 text without NUL; throws ZtocError naming `path` otherwise. */
function decodeText(bytes: Buffer, start: number, end: number, path: string): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    const byte = bytes[i]!;
    if (byte === 0) throw new ZtocError(`${path} contains a NUL byte at index ${i - start}`);
    if (byte > 0x7f) ascii = false;
  }
  if (ascii) return bytes.toString("latin1", start, end);
  try {
    return utf8Decoder.decode(bytes.subarray(start, end));
  } catch {
    throw new ZtocError(`${path} is not valid UTF-8: ${quoteBytes(bytes.subarray(start, end))}`);
  }
}

/** Quotes bytes for an error message, as Latin-1 text cut to 100 characters. */
function quoteBytes(bytes: Buffer): string {
  const text = bytes.toString("latin1", 0, Math.min(bytes.length, 100));
  return JSON.stringify(text) + (bytes.length > 100 ? "..." : "");
}
