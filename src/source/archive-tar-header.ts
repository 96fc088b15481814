/**
 * Parsing of one 512-byte tar header block (v7, POSIX ustar or GNU), for
 * finding the members of an image archive. PAX and GNU long-name headers
 * are members of their own, which the scanner applies to the next header.
 */

export const TAR_BLOCK_SIZE = 512;

/** The header fields that locating a member needs. */
export interface TarHeaderBlock {
  /** The name field, behind the ustar prefix field when there is one. */
  name: string;
  /** Content bytes after the header, before padding to a whole block. */
  size: number;
  /** One character, with the NUL type of old archives returned as `"0"`. */
  typeflag: string;
  linkName: string;
}

/** Returns true for an all-zero block, which marks the end of the archive. */
export function isZeroBlock(block: Buffer): boolean {
  return block.every((byte) => byte === 0);
}

/** Parses a header block, or returns a description of the problem when it is no valid header. */
export function parseTarHeaderBlock(block: Buffer): TarHeaderBlock | string {
  if (!hasValidChecksum(block)) return "header checksum mismatch";

  const size = parseNumericField(block.subarray(124, 136));
  if (size === undefined) return "invalid size field";

  const flag = block[156] ?? 0;
  return {
    name: readName(block),
    size,
    typeflag: flag === 0 ? "0" : String.fromCharCode(flag),
    linkName: readText(block, 157, 100),
  };
}

/** Joins the prefix field, which only POSIX ustar headers (`ustar\0` magic) have. */
function readName(block: Buffer): string {
  const name = readText(block, 0, 100);
  const isPosixUstar = block.toString("latin1", 257, 263) === "ustar\0";
  const prefix = isPosixUstar ? readText(block, 345, 155) : "";
  return prefix === "" ? name : `${prefix}/${name}`;
}

/** Reads a NUL-terminated text field as UTF-8. */
export function readText(bytes: Buffer, start: number, length: number): string {
  const field = bytes.subarray(start, start + length);
  const end = field.indexOf(0);
  return (end < 0 ? field : field.subarray(0, end)).toString("utf8");
}

/**
 * Checks the header checksum: the sum of all bytes, with the checksum field
 * counted as spaces. Some old tar programs summed signed bytes, so both sums
 * are accepted.
 */
function hasValidChecksum(block: Buffer): boolean {
  const stored = parseNumericField(block.subarray(148, 156));
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < TAR_BLOCK_SIZE; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

/**
 * Parses a numeric field: octal digits padded with spaces or NULs, or the
 * GNU base-256 form (high bit of the first byte set, then a big-endian
 * number) that large sizes use. Returns undefined for a malformed field, a
 * negative number or one beyond Number.MAX_SAFE_INTEGER.
 */
export function parseNumericField(field: Buffer): number | undefined {
  const first = field[0] ?? 0;
  if ((first & 0x80) === 0) return parseOctal(field.toString("latin1"));
  if ((first & 0x40) !== 0) return undefined;

  let value = BigInt(first & 0x3f);
  for (const byte of field.subarray(1)) value = (value << 8n) | BigInt(byte);
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined;
}

function parseOctal(text: string): number | undefined {
  const match = /^[ \0]*([0-7]*)[ \0]*$/.exec(text);
  if (!match) return undefined;

  const digits = match[1] ?? "";
  const value = digits === "" ? 0 : parseInt(digits, 8);
  return Number.isSafeInteger(value) ? value : undefined;
}
