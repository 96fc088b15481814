import type { GzipCheckpointIndex } from "./gzip-checkpoint-index.js";
import type { ZstdFrameIndex } from "./zstd-frame-index.js";

/** Index of a compressed layer blob, which lets a reader decode any uncompressed range. */
export type RandomAccessIndex =
  | ({ kind: "gzip" } & GzipCheckpointIndex)
  | ({ kind: "zstd" } & ZstdFrameIndex)
  | { kind: "none"; compressedSize: number; uncompressedSize: number };

/**
 * Default limit of isRandomAccessUseful: the largest stretch of uncompressed
 * data between two access points at which reading one small file still
 * counts as cheap.
 */
export const DEFAULT_MAX_ACCESS_INTERVAL = 32 * 1024 * 1024;

/**
 * Returns the largest distance in uncompressed bytes between two places
 * where decoding can start. A read of `length` bytes decodes at most
 * `length` plus twice this, and fetches the matching compressed bytes.
 */
export function largestAccessInterval(index: RandomAccessIndex): number {
  switch (index.kind) {
    case "none":
      return 0;
    case "gzip":
      return largestGap(index.checkpoints, index.uncompressedSize);
    case "zstd":
      return largestGap(index.frames, index.uncompressedSize);
  }
}

/**
 * Returns true when reading a small file from the compressed blob is cheap:
 * no stretch between access points exceeds `maxInterval`. It is false for a
 * large single-frame zstd blob, which a cache should keep uncompressed.
 */
export function isRandomAccessUseful(
  index: RandomAccessIndex,
  maxInterval = DEFAULT_MAX_ACCESS_INTERVAL,
): boolean {
  return largestAccessInterval(index) <= maxInterval;
}

function largestGap(starts: readonly { uncompressedOffset: number }[], size: number): number {
  let largest = 0;
  for (let i = 0; i < starts.length; i++) {
    const end = starts[i + 1]?.uncompressedOffset ?? size;
    largest = Math.max(largest, end - starts[i]!.uncompressedOffset);
  }
  return largest;
}
