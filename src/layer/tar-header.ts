import { invalidTarError } from "./layer-errors.js";

/**
 * Parser for one 512-byte tar header block in the ustar, GNU or v7 layout.
 * PAX and GNU long-name headers are members of their own; the tar scanner
 * combines them with the header that follows.
 */

export const BLOCK_SIZE = 512;

/** The fields of one header block that the layer index uses. */
export interface TarHeader {
  /** The name field, with the ustar prefix field joined in front when present. */
  name: string;
  mode: number;
  /** The size field: content bytes that follow the header, before padding. */
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** One character; a NUL type flag (old tars) is returned as `"0"`. */
  typeflag: string;
  linkName: string;
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes name bytes as UTF-8, or as Latin-1 when they are not valid UTF-8.
 * NOTE: a Latin-1 name can decode to the same string as another name's
 * UTF-8 bytes (`caf\xe9` and `café`), and then the later entry hides the
 * earlier one.
 */
export function decodeTarText(bytes: Uint8Array): string {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  }
}

/** Returns true for an all-zero block, which marks the end of the archive. */
export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK_SIZE; i++) {
    if (block[i] !== 0) return false;
  }
  return true;
}

/** Parses a header block found at `offset`; throws INVALID_LAYER naming the offset. */
export function parseTarHeader(block: Buffer, offset: number, digest: string): TarHeader {
  const fail = (problem: string) => invalidTarError(digest, offset, problem);
  verifyChecksum(block, fail);

  const mode = parseNumericField(block.subarray(100, 108));
  const size = parseNumericField(block.subarray(124, 136));
  const mtime = parseNumericField(block.subarray(136, 148));
  if (mode === undefined) throw fail("invalid mode field in header");
  if (size === undefined || size < 0) throw fail("invalid size field in header");
  if (mtime === undefined) throw fail("invalid mtime field in header");

  const flag = block[156] ?? 0;
  return {
    name: readName(block),
    mode,
    size,
    mtime,
    typeflag: flag === 0 ? "0" : String.fromCharCode(flag),
    linkName: decodeTarText(readField(block, 157, 100)),
  };
}

/** Joins the prefix field, which only POSIX ustar headers (`ustar\0` magic) have. */
function readName(block: Buffer): string {
  const name = readField(block, 0, 100);
  const isPosixUstar = block.toString("latin1", 257, 263) === "ustar\0";
  const prefix = isPosixUstar ? readField(block, 345, 155) : Buffer.alloc(0);
  if (prefix.length === 0) return decodeTarText(name);
  return decodeTarText(Buffer.concat([prefix, Buffer.from("/"), name]));
}

/** Returns a text field's bytes up to its first NUL. */
function readField(block: Buffer, start: number, length: number): Buffer {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return end < 0 ? field : field.subarray(0, end);
}

/**
 * Verifies the header checksum: the sum of all bytes with the checksum field
 * counted as spaces. Old tars summed signed bytes, so both sums are accepted.
 */
function verifyChecksum(block: Buffer, fail: (problem: string) => Error): void {
  const stored = parseNumericField(block.subarray(148, 156));
  const unsigned = sumBytes(block, false);
  if (stored === unsigned || stored === sumBytes(block, true)) return;
  throw fail(`header checksum mismatch (stored ${stored ?? "unreadable"}, computed ${unsigned})`);
}

function sumBytes(block: Buffer, signed: boolean): number {
  let sum = 8 * 0x20;
  for (let i = 0; i < BLOCK_SIZE; i++) {
    if (i === 148) i = 156;
    const byte = block[i]!;
    sum += signed && byte > 127 ? byte - 256 : byte;
  }
  return sum;
}

/**
 * Parses a numeric field: octal digits padded with spaces or NULs, or GNU
 * base-256 (the first byte's high bit set, the rest a big-endian two's
 * complement number). Returns undefined for a malformed field or a value
 * beyond Number.MAX_SAFE_INTEGER.
 */
export function parseNumericField(field: Buffer): number | undefined {
  if (((field[0] ?? 0) & 0x80) !== 0) return parseBase256(field);
  return parseOctal(field);
}

function parseOctal(field: Buffer): number | undefined {
  let start = 0;
  while (start < field.length && isPadding(field[start])) start++;
  let stop = start;
  while (stop < field.length && isOctalDigit(field[stop])) stop++;
  for (let i = stop; i < field.length; i++) {
    if (!isPadding(field[i])) return undefined;
  }

  if (stop === start) return 0;
  const value = parseInt(field.toString("latin1", start, stop), 8);
  return Number.isSafeInteger(value) ? value : undefined;
}

function parseBase256(field: Buffer): number | undefined {
  let value = BigInt((field[0] ?? 0) & 0x7f);
  for (let i = 1; i < field.length; i++) {
    value = (value << 8n) | BigInt(field[i] ?? 0);
  }
  const negative = ((field[0] ?? 0) & 0x40) !== 0;
  if (negative) value -= 1n << BigInt(field.length * 8 - 1);

  const result = Number(value);
  return Number.isSafeInteger(result) ? result : undefined;
}

function isPadding(byte: number | undefined): boolean {
  return byte === 0 || byte === 0x20;
}

function isOctalDigit(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 0x30 && byte <= 0x37;
}
