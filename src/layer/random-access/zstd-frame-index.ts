import { lastAtOrBefore } from "./offset-search.js";

/** A zstd frame that produces data, which a decoder can start at. */
export interface ZstdFrame {
  /** Offset of the frame's magic number in the compressed blob. */
  compressedOffset: number;
  /** Offset in the uncompressed stream of the frame's first byte. */
  uncompressedOffset: number;
  /** CRC-32 of the frame's uncompressed data. */
  crc: number;
}

/**
 * The frames of a zstd blob, in stream order, without the frames that
 * produce no data (skippable and empty ones). Frame i ends where frame i + 1
 * starts, or at the end of the blob.
 */
export interface ZstdFrameIndex {
  compressedSize: number;
  uncompressedSize: number;
  frames: ZstdFrame[];
}

/** The frames and compressed bytes that a read of an uncompressed range needs. */
export interface ZstdSpan {
  first: number;
  /** Index of the first frame after the range, or the frame count. */
  end: number;
  compressedStart: number;
  compressedEndInclusive: number;
}

/** Returns the frames that cover the non-empty uncompressed range [offset, offset + length). */
export function findZstdSpan(index: ZstdFrameIndex, offset: number, length: number): ZstdSpan {
  const frames = index.frames;
  const first = lastAtOrBefore(frames, offset);
  let end = first + 1;
  while (end < frames.length && frames[end]!.uncompressedOffset < offset + length) end++;

  const compressedEnd = frames[end]?.compressedOffset ?? index.compressedSize;
  return {
    first,
    end,
    compressedStart: frames[first]!.compressedOffset,
    compressedEndInclusive: compressedEnd - 1,
  };
}

/** Returns the uncompressed offset where frame i ends. */
export function frameEnd(index: ZstdFrameIndex, i: number): number {
  return index.frames[i + 1]?.uncompressedOffset ?? index.uncompressedSize;
}
