import type { GzipCheckpointIndex } from "./gzip-checkpoint-index.js";
import type { ZstdFrameIndex } from "./zstd-frame-index.js";

/** What a layer reader needs to read any uncompressed range from the compressed blob. */
export type RandomAccessIndex =
  | ({ kind: "gzip" } & GzipCheckpointIndex)
  | ({ kind: "zstd" } & ZstdFrameIndex)
  | { kind: "none"; compressedSize: number; uncompressedSize: number };

/**
 * Largest decoded stretch a read starts at, above which reading one file
 * stops being cheap; isRandomAccessUseful compares against it.
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
      return largestGap(index.checkpoints.map((point) => point.uncompressedOffset), index.uncompressedSize);
    case "zstd":
      return largestGap(index.frames.map((frame) => frame.uncompressedOffset), index.uncompressedSize);
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

function largestGap(starts: number[], size: number): number {
  let largest = 0;
  for (let i = 0; i < starts.length; i++) {
    largest = Math.max(largest, (starts[i + 1] ?? size) - starts[i]!);
  }
  return largest;
}
