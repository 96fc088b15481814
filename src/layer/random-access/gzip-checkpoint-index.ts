import { lastAtOrBefore } from "./offset-search.js";

/** Default uncompressed distance between two checkpoints of a gzip index. */
export const DEFAULT_CHECKPOINT_SPACING = 4 * 1024 * 1024;

/** Uncompressed bytes of history that a deflate block may refer back to (RFC 1951). */
export const DEFLATE_WINDOW_SIZE = 32 * 1024;

/**
 * A place where inflating can resume: the start of a deflate block, with the
 * uncompressed history that the block may refer to.
 */
export interface GzipCheckpoint {
  /** Offset in the uncompressed stream of the first byte this block produces. */
  uncompressedOffset: number;
  /** Offset of the block header in bits from the blob's start, bit 0 being a byte's lowest bit. */
  compressedBitOffset: number;
  /** True at a gzip member's first block, where inflating starts with an empty window. */
  memberStart: boolean;
  /** Up to 32 KiB of the member's uncompressed data before this point, raw-deflate compressed. */
  window: Buffer;
  /**
   * CRC-32 of the member's uncompressed bytes from the member's start to the
   * end of this checkpoint's interval (the next checkpoint, or the member's end).
   */
  endCrc: number;
}

/**
 * Checkpoints of a gzip blob, in stream order. Checkpoint i's interval is the
 * uncompressed data from it to checkpoint i + 1, or to the end.
 */
export interface GzipCheckpointIndex {
  compressedSize: number;
  uncompressedSize: number;
  /** Requested uncompressed distance between checkpoints; member starts add more. */
  spacing: number;
  checkpoints: GzipCheckpoint[];
}

/** The checkpoints and compressed bytes that a read of an uncompressed range needs. */
export interface GzipSpan {
  /** Index of the checkpoint at or before the range start. */
  first: number;
  /** Index of the first checkpoint at or after the range end, or the checkpoint count. */
  end: number;
  /** First compressed byte to fetch: the byte that contains the first bit of the block header. */
  compressedStart: number;
  /** Last compressed byte to fetch, inclusive. */
  compressedEndInclusive: number;
}

/** Returns the span of checkpoints that covers the uncompressed range [offset, offset + length). */
export function findGzipSpan(index: GzipCheckpointIndex, offset: number, length: number): GzipSpan {
  const checkpoints = index.checkpoints;
  const first = lastAtOrBefore(checkpoints, offset);
  let end = first + 1;
  while (end < checkpoints.length && checkpoints[end]!.uncompressedOffset < offset + length) end++;

  const endCheckpoint = checkpoints[end];
  const compressedEndInclusive = endCheckpoint
    ? Math.ceil(endCheckpoint.compressedBitOffset / 8) - 1
    : index.compressedSize - 1;
  const compressedStart = Math.floor(checkpoints[first]!.compressedBitOffset / 8);
  return { first, end, compressedStart, compressedEndInclusive };
}

/** Returns the uncompressed offset where checkpoint i's interval ends. */
export function intervalEnd(index: GzipCheckpointIndex, i: number): number {
  return index.checkpoints[i + 1]?.uncompressedOffset ?? index.uncompressedSize;
}

/** Returns the CRC-32 of the member's data before checkpoint i, which its interval continues. */
export function intervalCrcSeed(index: GzipCheckpointIndex, i: number): number {
  const checkpoint = index.checkpoints[i]!;
  if (checkpoint.memberStart || i === 0) return 0;
  return index.checkpoints[i - 1]!.endCrc;
}
