/**
 * The "zinfo" of a zTOC: the `checkpoints` byte vector of CompressionInfo,
 * which lists where decompression of the layer blob can resume. Layouts, as
 * soci-snapshotter's ztoc/compression package writes them (all integers
 * little-endian):
 *
 * - gzip: uint32 checkpoint count, uint64 span size, then per checkpoint
 *   uint64 `in`, uint64 `out`, uint8 `bits` and the 32 KiB window. Version 1
 *   blobs leave out checkpoint 0, which is then {in: 10, out: 0, bits: 0};
 *   version 2 blobs store every checkpoint. Only the blob size distinguishes them.
 * - uncompressed: int32 version (2), int64 span size, int64 tar size; span i
 *   starts at byte i * span size.
 */
import { ZtocError } from "./ztoc-error.js";

/** Bytes of uncompressed history saved with each gzip checkpoint: the deflate window. */
export const ZINFO_WINDOW_SIZE = 32 * 1024;

const GZIP_HEADER_SIZE = 4 + 8;
const GZIP_CHECKPOINT_SIZE = 8 + 8 + 1 + ZINFO_WINDOW_SIZE;
const TAR_ZINFO_SIZE = 4 + 8 + 8;
const TAR_ZINFO_VERSION = 2;

/** Compressed offset of the synthesized checkpoint 0 of a version 1 blob: a gzip header without options. */
const VERSION_1_FIRST_IN = 10;

const where = "Ztoc.compression_info.checkpoints";

/** A point where decompression can resume, at the start of a span. */
export interface ZtocCheckpoint {
  /** Offset in the blob of the first whole byte of the deflate block ("in"). */
  compressedOffset: number;
  /**
   * Bits (0 to 7) of the byte before compressedOffset that belong to the
   * block: its high `bits` bits. The span's first byte is then compressedOffset - 1.
   */
  bits: number;
  /** Offset in the uncompressed tar of the block's first byte ("out"). */
  uncompressedOffset: number;
  /**
   * The 32 KiB of uncompressed data before uncompressedOffset, zero-padded at
   * the front near the start of the tar: a view into the zTOC's bytes, not a
   * copy. It is empty where no history is stored: checkpoint 0 of a version 1
   * blob, and uncompressed layers.
   */
  window: Buffer;
}

export interface Zinfo {
  /** Uncompressed bytes that the writer aimed for between checkpoints. */
  spanSize: number;
  checkpoints: ZtocCheckpoint[];
}

/**
 * Parses a gzip checkpoints blob. Checkpoints must be in ascending stream
 * order, within the blob's compressedSize, and as many as `spanCount`.
 */
export function parseGzipZinfo(blob: Buffer, compressedSize: number, spanCount: number): Zinfo {
  if (blob.length < GZIP_HEADER_SIZE) {
    throw new ZtocError(`${where}: ${blob.length} bytes, too few for the ${GZIP_HEADER_SIZE}-byte gzip zinfo header`);
  }
  const count = blob.readUInt32LE(0);
  const spanSize = readUint64(blob, 4, `${where} span size`);
  if (spanSize === 0) throw new ZtocError(`${where}: span size is 0`);
  if (count === 0) throw new ZtocError(`${where}: no checkpoints, but a gzip zinfo starts with checkpoint 0`);

  const body = blob.length - GZIP_HEADER_SIZE;
  let stored: number;
  if (body === count * GZIP_CHECKPOINT_SIZE) stored = count;
  else if (body === (count - 1) * GZIP_CHECKPOINT_SIZE) stored = count - 1;
  else {
    const expected = `${GZIP_HEADER_SIZE} + ${count} × ${GZIP_CHECKPOINT_SIZE} bytes (version 2) or ${GZIP_HEADER_SIZE} + ${count - 1} × ${GZIP_CHECKPOINT_SIZE} (version 1)`;
    throw new ZtocError(`${where}: ${blob.length} bytes do not fit the count of ${count} checkpoints: expected ${expected}`);
  }
  checkSpanCount(count, spanCount);

  const checkpoints: ZtocCheckpoint[] = [];
  if (stored < count) {
    checkpoints.push({ compressedOffset: VERSION_1_FIRST_IN, bits: 0, uncompressedOffset: 0, window: Buffer.alloc(0) });
  }
  for (let i = 0; i < stored; i++) {
    const position = GZIP_HEADER_SIZE + i * GZIP_CHECKPOINT_SIZE;
    const index = checkpoints.length;
    const windowStart = position + 17;
    checkpoints.push({
      compressedOffset: readUint64(blob, position, `${where}[${index}].in`),
      uncompressedOffset: readUint64(blob, position + 8, `${where}[${index}].out`),
      bits: blob[position + 16]!,
      window: blob.subarray(windowStart, windowStart + ZINFO_WINDOW_SIZE),
    });
  }
  checkGzipCheckpoints(checkpoints, compressedSize);
  return { spanSize, checkpoints };
}

/**
 * Parses the zinfo of an uncompressed layer and derives its checkpoints, one
 * every span size bytes. The tar size it states must be `compressedSize`.
 */
export function parseTarZinfo(blob: Buffer, compressedSize: number, spanCount: number): Zinfo {
  if (blob.length !== TAR_ZINFO_SIZE) {
    throw new ZtocError(`${where}: ${blob.length} bytes, but the zinfo of an uncompressed layer has ${TAR_ZINFO_SIZE}`);
  }
  const version = blob.readInt32LE(0);
  if (version !== TAR_ZINFO_VERSION) {
    throw new ZtocError(`${where}: unsupported uncompressed zinfo version ${version}: expected ${TAR_ZINFO_VERSION}`);
  }
  const spanSize = readUint64(blob, 4, `${where} span size`);
  const size = readUint64(blob, 12, `${where} tar size`);
  if (spanSize === 0) throw new ZtocError(`${where}: span size is 0`);
  if (size !== compressedSize) {
    throw new ZtocError(`${where}: tar size ${size} differs from compressed_archive_size ${compressedSize}`);
  }

  // Checked before the loop, because the span count bounds the allocation.
  const count = Math.ceil(size / spanSize);
  checkSpanCount(count, spanCount);
  const checkpoints: ZtocCheckpoint[] = [];
  for (let i = 0; i < count; i++) {
    const offset = i * spanSize;
    checkpoints.push({ compressedOffset: offset, bits: 0, uncompressedOffset: offset, window: Buffer.alloc(0) });
  }
  return { spanSize, checkpoints };
}

function checkSpanCount(checkpointCount: number, spanCount: number): void {
  if (checkpointCount !== spanCount) {
    throw new ZtocError(`${where}: ${checkpointCount} checkpoints, but Ztoc.compression_info lists ${spanCount} spans`);
  }
}

/** Checks bit counts, bounds and order: each checkpoint starts later in the blob than the one before. */
function checkGzipCheckpoints(checkpoints: ZtocCheckpoint[], compressedSize: number): void {
  const first = checkpoints[0]!;
  if (first.uncompressedOffset !== 0) {
    throw new ZtocError(`${where}[0].out is ${first.uncompressedOffset}: checkpoint 0 must be at the start of the tar`);
  }
  let previousBit = -1;
  let previousOut = 0;
  checkpoints.forEach((checkpoint, index) => {
    const { compressedOffset, bits, uncompressedOffset } = checkpoint;
    if (bits > 7) throw new ZtocError(`${where}[${index}].bits is ${bits}: expected 0 to 7`);
    if (compressedOffset > compressedSize || (bits > 0 && compressedOffset === 0)) {
      throw new ZtocError(`${where}[${index}].in is ${compressedOffset}, outside the ${compressedSize}-byte blob`);
    }
    const bit = compressedOffset * 8 - bits;
    if (bit <= previousBit || uncompressedOffset < previousOut) {
      const position = (i: number) => `in ${checkpoints[i]!.compressedOffset}, bits ${checkpoints[i]!.bits}, out ${checkpoints[i]!.uncompressedOffset}`;
      throw new ZtocError(`${where}: checkpoint ${index} (${position(index)}) is not after checkpoint ${index - 1} (${position(index - 1)})`);
    }
    previousBit = bit;
    previousOut = uncompressedOffset;
  });
}

/** Reads a uint64 that must be at most Number.MAX_SAFE_INTEGER. */
function readUint64(blob: Buffer, position: number, field: string): number {
  const high = blob.readUInt32LE(position + 4);
  if (high > 0x1f_ffff) {
    throw new ZtocError(`${field} is ${blob.readBigUInt64LE(position)}: expected at most ${Number.MAX_SAFE_INTEGER}`);
  }
  return high * 2 ** 32 + blob.readUInt32LE(position);
}
