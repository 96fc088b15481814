import type { ByteReader } from "./byte-reader.js";
import { readBytes } from "./chunk-streams.js";
import { corruptDataError } from "./random-access-errors.js";

// Frame layout from RFC 8878, section 3.1.
const ZSTD_MAGIC = 0xfd2fb528;
/** Skippable frames use the 16 magic numbers 0x184D2A50 to 0x184D2A5F. */
const SKIPPABLE_MAGIC_BASE = 0x184d2a50;
const DICTIONARY_ID_SIZES = [0, 1, 2, 4] as const;
const BLOCK_TYPE_RLE = 1;
const BLOCK_TYPE_RESERVED = 3;
/** Block_Maximum_Size: a block never contains more than 128 KiB. */
const MAX_BLOCK_SIZE = 128 * 1024;
const CHECKSUM_LENGTH = 4;

/** Fields of a frame header, filled in by readZstdFrame while it parses. */
export interface ZstdFrameInfo {
  skippable: boolean;
  /** Frame_Content_Size, when the header has it. */
  contentSize: number | undefined;
}

/** Returns whether the next 4 bytes start a skippable frame, without consuming them. */
export async function isSkippableFrameNext(reader: ByteReader): Promise<boolean> {
  const magic = await reader.readExact(4, "a zstd frame magic");
  reader.unread(magic);
  return (magic.readUInt32LE(0) & 0xfffffff0) >>> 0 === SKIPPABLE_MAGIC_BASE;
}

/**
 * Yields every byte of the next frame, in slices of at most `maxSlice`
 * bytes, while it parses the frame header and the 3-byte block headers to
 * find where the frame ends. Block contents are passed on, not decoded.
 */
export async function* readZstdFrame(
  reader: ByteReader,
  streamName: string,
  info: ZstdFrameInfo,
  maxSlice = Number.POSITIVE_INFINITY,
): AsyncGenerator<Buffer> {
  const frameStart = reader.position;
  const magicBytes = await reader.readExact(4, "a zstd frame magic");
  const magic = magicBytes.readUInt32LE(0);
  if ((magic & 0xfffffff0) >>> 0 === SKIPPABLE_MAGIC_BASE) {
    info.skippable = true;
    const size = await reader.readExact(4, "a zstd skippable frame size");
    yield Buffer.concat([magicBytes, size]);
    return yield* readBytes(reader, size.readUInt32LE(0), "a zstd skippable frame", maxSlice);
  }
  if (magic !== ZSTD_MAGIC) {
    const problem = `invalid zstd frame magic 0x${magic.toString(16).padStart(8, "0")}`;
    throw corruptDataError(streamName, problem, { compressedOffset: frameStart });
  }

  info.skippable = false;
  const frameHeader = await readFrameHeader(reader, streamName, frameStart);
  const { header, contentSize, hasChecksum } = frameHeader;
  info.contentSize = contentSize;
  yield Buffer.concat([magicBytes, header]);
  yield* readBlocks(reader, streamName, maxSlice);
  if (hasChecksum) yield await reader.readExact(CHECKSUM_LENGTH, "a zstd content checksum");
}

/** Reads Frame_Header_Descriptor and the optional fields that it announces. */
async function readFrameHeader(reader: ByteReader, streamName: string, frameStart: number) {
  const descriptor = (await reader.readExact(1, "a zstd frame header"))[0]!;
  if (descriptor & 0x08) {
    const problem = "invalid zstd frame header: the reserved bit is set";
    throw corruptDataError(streamName, problem, { compressedOffset: frameStart });
  }
  const contentSizeFlag = descriptor >>> 6;
  const singleSegment = (descriptor & 0x20) !== 0;
  const hasChecksum = (descriptor & 0x04) !== 0;
  const dictionaryIdSize = DICTIONARY_ID_SIZES[descriptor & 0x03]!;
  const contentSizeSize = [singleSegment ? 1 : 0, 2, 4, 8][contentSizeFlag]!;
  const windowDescriptorSize = singleSegment ? 0 : 1;

  const fieldsLength = windowDescriptorSize + dictionaryIdSize + contentSizeSize;
  const fields = await reader.readExact(fieldsLength, "a zstd frame header");
  const contentSize = readContentSize(fields.subarray(fieldsLength - contentSizeSize));
  return { header: Buffer.concat([Buffer.of(descriptor), fields]), contentSize, hasChecksum };
}

/** Frame_Content_Size is little-endian; its 2-byte form stores the size minus 256. */
function readContentSize(field: Buffer): number | undefined {
  switch (field.length) {
    case 0:
      return undefined;
    case 1:
      return field[0]!;
    case 2:
      return field.readUInt16LE(0) + 256;
    case 4:
      return field.readUInt32LE(0);
    default:
      return field.readUInt32LE(0) + field.readUInt32LE(4) * 2 ** 32;
  }
}

async function* readBlocks(
  reader: ByteReader,
  streamName: string,
  maxSlice: number,
): AsyncGenerator<Buffer> {
  for (;;) {
    const blockStart = reader.position;
    const header = await reader.readExact(3, "a zstd block header");
    const value = header[0]! + header[1]! * 0x100 + header[2]! * 0x10000;
    const last = (value & 1) === 1;
    const type = (value >>> 1) & 3;
    const size = value >>> 3;
    if (type === BLOCK_TYPE_RESERVED || size > MAX_BLOCK_SIZE) {
      const problem = `invalid zstd block header: type ${type}, size ${size}`;
      throw corruptDataError(streamName, problem, { compressedOffset: blockStart });
    }
    yield header;
    // An RLE block stores one byte; its size field is the regenerated size.
    yield* readBytes(reader, type === BLOCK_TYPE_RLE ? 1 : size, "a zstd block", maxSlice);
    if (last) return;
  }
}
