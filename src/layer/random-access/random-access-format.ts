import { BinaryReader, BinaryWriter } from "./binary-codec.js";
import type { GzipCheckpoint } from "./gzip-checkpoint-index.js";
import type { RandomAccessIndex } from "./random-access-index.js";
import { validateIndex } from "./random-access-validation.js";
import { invalidIndexError } from "./random-access-errors.js";
import type { ZstdFrame } from "./zstd-frame-index.js";

/** ASCII "RDRA", the first bytes of every serialized index. */
const MAGIC = 0x41524452;
/** Bumped whenever the layout below changes; parse rejects other versions. */
export const RANDOM_ACCESS_FORMAT_VERSION = 1;
const KIND_CODES = { gzip: 1, zstd: 2, none: 3 } as const;
const MEMBER_START_FLAG = 1;

/**
 * Serializes an index to a compact binary form, little-endian throughout.
 * Every index starts with magic u32, version u8, kind u8, compressedSize u64
 * and uncompressedSize u64. A gzip index continues with spacing u64, count
 * u32 and, per checkpoint, uncompressedOffset u64, compressedBitOffset u64,
 * flags u8, endCrc u32, window length u32 and the compressed window (25
 * bytes plus the window). A zstd index continues with count u32 and, per
 * frame, compressedOffset u64, uncompressedOffset u64 and crc u32 (20 bytes).
 */
export function serializeRandomAccessIndex(index: RandomAccessIndex): Buffer {
  const writer = new BinaryWriter();
  writer.u32(MAGIC);
  writer.u8(RANDOM_ACCESS_FORMAT_VERSION);
  writer.u8(KIND_CODES[index.kind]);
  writer.u64(index.compressedSize);
  writer.u64(index.uncompressedSize);
  if (index.kind === "gzip") {
    writer.u64(index.spacing);
    writer.u32(index.checkpoints.length);
    for (const checkpoint of index.checkpoints) writeCheckpoint(writer, checkpoint);
  } else if (index.kind === "zstd") {
    writer.u32(index.frames.length);
    for (const frame of index.frames) writeFrame(writer, frame);
  }
  return writer.toBuffer();
}

/** Parses and validates a serialized index. Throws INVALID_LAYER, so the caller can rebuild it. */
export function parseRandomAccessIndex(data: Buffer): RandomAccessIndex {
  const reader = new BinaryReader(data);
  if (reader.u32() !== MAGIC) throw invalidIndexError("missing the RDRA magic");
  const version = reader.u8();
  if (version !== RANDOM_ACCESS_FORMAT_VERSION) {
    const expected = RANDOM_ACCESS_FORMAT_VERSION;
    throw invalidIndexError(`unsupported version ${version}, expected ${expected}`);
  }
  const kindCode = reader.u8();
  const compressedSize = reader.u64();
  const uncompressedSize = reader.u64();
  const index = readBody(reader, kindCode, compressedSize, uncompressedSize);
  if (reader.remaining > 0) throw invalidIndexError(`${reader.remaining} bytes after the index`);
  validateIndex(index);
  return index;
}

function readBody(
  reader: BinaryReader,
  kindCode: number,
  compressedSize: number,
  uncompressedSize: number,
): RandomAccessIndex {
  switch (kindCode) {
    case KIND_CODES.gzip: {
      const spacing = reader.u64();
      const checkpoints = readList(reader, readCheckpoint);
      return { kind: "gzip", compressedSize, uncompressedSize, spacing, checkpoints };
    }
    case KIND_CODES.zstd:
      const frames = readList(reader, readFrame);
      return { kind: "zstd", compressedSize, uncompressedSize, frames };
    case KIND_CODES.none:
      return { kind: "none", compressedSize, uncompressedSize };
    default:
      throw invalidIndexError(`unknown compression kind ${kindCode}`);
  }
}

function readList<T>(reader: BinaryReader, readItem: (reader: BinaryReader) => T): T[] {
  const count = reader.u32();
  const items: T[] = [];
  for (let i = 0; i < count; i++) items.push(readItem(reader));
  return items;
}

function writeCheckpoint(writer: BinaryWriter, checkpoint: GzipCheckpoint): void {
  writer.u64(checkpoint.uncompressedOffset);
  writer.u64(checkpoint.compressedBitOffset);
  writer.u8(checkpoint.memberStart ? MEMBER_START_FLAG : 0);
  writer.u32(checkpoint.endCrc);
  writer.bytes(checkpoint.window);
}

function readCheckpoint(reader: BinaryReader): GzipCheckpoint {
  const uncompressedOffset = reader.u64();
  const compressedBitOffset = reader.u64();
  const memberStart = (reader.u8() & MEMBER_START_FLAG) !== 0;
  const endCrc = reader.u32();
  const window = reader.bytes();
  return { uncompressedOffset, compressedBitOffset, memberStart, window, endCrc };
}

function writeFrame(writer: BinaryWriter, frame: ZstdFrame): void {
  writer.u64(frame.compressedOffset);
  writer.u64(frame.uncompressedOffset);
  writer.u32(frame.crc);
}

function readFrame(reader: BinaryReader): ZstdFrame {
  return { compressedOffset: reader.u64(), uncompressedOffset: reader.u64(), crc: reader.u32() };
}
