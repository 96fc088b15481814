import type { ByteReader } from "./byte-reader.js";
import { crc32 } from "./crc32.js";
import { corruptDataError } from "./random-access-errors.js";

// Header fields of a gzip member (RFC 1952, section 2.3).
const ID1 = 0x1f;
const ID2 = 0x8b;
const CM_DEFLATE = 8;
const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
const RESERVED_FLAGS = 0xe0;
const FIXED_HEADER_LENGTH = 10;
export const GZIP_TRAILER_LENGTH = 8;

/** The CRC-32 and the length modulo 2^32 of a member's uncompressed data. */
export interface GzipTrailer {
  crc: number;
  isize: number;
}

/**
 * Reads one gzip member header, including the optional FEXTRA, FNAME,
 * FCOMMENT and FHCRC fields, and checks the header CRC when present. The
 * reader is left at the first byte of the deflate data.
 */
export async function readGzipHeader(reader: ByteReader, streamName: string): Promise<void> {
  const start = reader.position;
  const fixed = await reader.readExact(FIXED_HEADER_LENGTH, "a gzip header");
  const flags = fixed[3]!;
  const invalid = headerProblem(fixed);
  if (invalid) throw corruptDataError(streamName, invalid, { compressedOffset: start });

  let headerCrc = crc32(fixed, 0);
  if (flags & FEXTRA) {
    const lengthBytes = await reader.readExact(2, "the gzip FEXTRA length");
    headerCrc = crc32(lengthBytes, headerCrc);
    const extra = await reader.readExact(lengthBytes.readUInt16LE(0), "the gzip FEXTRA field");
    headerCrc = crc32(extra, headerCrc);
  }
  if (flags & FNAME) {
    headerCrc = await skipZeroTerminated(reader, headerCrc, "the gzip FNAME field");
  }
  if (flags & FCOMMENT) {
    headerCrc = await skipZeroTerminated(reader, headerCrc, "the gzip FCOMMENT field");
  }
  if (flags & FHCRC) await checkHeaderCrc(reader, headerCrc, streamName, start);
}

/** Reads the 8-byte trailer that follows a member's deflate data. */
export async function readGzipTrailer(reader: ByteReader): Promise<GzipTrailer> {
  const bytes = await reader.readExact(GZIP_TRAILER_LENGTH, "a gzip trailer");
  return { crc: bytes.readUInt32LE(0), isize: bytes.readUInt32LE(4) };
}

/**
 * Returns true when another member follows. Like Node's gunzip, it accepts
 * zero bytes after the last member as padding. Unlike Node, which ignores
 * whatever follows the first zero byte, it rejects any other byte there.
 */
export async function hasAnotherMember(reader: ByteReader, streamName: string): Promise<boolean> {
  const next = await reader.readChunk();
  if (!next) return false;
  reader.unread(next);
  if (next[0] !== 0) return true;

  for (let chunk = await reader.readChunk(); chunk; chunk = await reader.readChunk()) {
    const nonZero = chunk.findIndex((byte) => byte !== 0);
    if (nonZero >= 0) {
      const position = { compressedOffset: reader.position - chunk.length + nonZero };
      throw corruptDataError(streamName, "invalid data after zero padding", position);
    }
  }
  return false;
}

function headerProblem(fixed: Buffer): string | undefined {
  if (fixed[0] !== ID1 || fixed[1] !== ID2) return "invalid gzip magic";
  if (fixed[2] !== CM_DEFLATE) return `unsupported gzip compression method ${fixed[2]}`;
  if (fixed[3]! & RESERVED_FLAGS) return `invalid gzip header flags 0x${fixed[3]!.toString(16)}`;
  return undefined;
}

/** Skips a zero-terminated header field and returns the header CRC continued over it. */
async function skipZeroTerminated(reader: ByteReader, crc: number, what: string): Promise<number> {
  for (;;) {
    const chunk = await reader.readChunk();
    if (!chunk) throw reader.truncatedError(what);
    const end = chunk.indexOf(0);
    if (end < 0) {
      crc = crc32(chunk, crc);
      continue;
    }
    reader.unread(chunk.subarray(end + 1));
    return crc32(chunk.subarray(0, end + 1), crc);
  }
}

/** FHCRC stores the low 16 bits of the CRC-32 of every header byte before it. */
async function checkHeaderCrc(
  reader: ByteReader,
  crc: number,
  streamName: string,
  headerStart: number,
): Promise<void> {
  const stored = (await reader.readExact(2, "the gzip FHCRC field")).readUInt16LE(0);
  const expected = crc & 0xffff;
  if (stored === expected) return;
  const problem =
    `gzip header CRC mismatch: stored 0x${stored.toString(16)}, ` +
    `computed 0x${expected.toString(16)}`;
  throw corruptDataError(streamName, problem, { compressedOffset: headerStart });
}
