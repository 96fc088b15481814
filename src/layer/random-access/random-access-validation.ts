import type { GzipCheckpointIndex } from "./gzip-checkpoint-index.js";
import type { RandomAccessIndex } from "./random-access-index.js";
import { invalidIndexError } from "./random-access-errors.js";
import type { ZstdFrameIndex } from "./zstd-frame-index.js";

/**
 * Checks the invariants that the readers rely on, so that a damaged stored
 * index fails here, naming the bad entry, instead of giving wrong reads.
 */
export function validateIndex(index: RandomAccessIndex): void {
  switch (index.kind) {
    case "gzip":
      return validateGzipIndex(index);
    case "zstd":
      return validateZstdIndex(index);
    case "none":
      if (index.compressedSize !== index.uncompressedSize) {
        const sizes = `${index.compressedSize} and ${index.uncompressedSize}`;
        throw invalidIndexError(`an uncompressed blob with different sizes ${sizes}`);
      }
  }
}

function validateGzipIndex(index: GzipCheckpointIndex): void {
  const checkpoints = index.checkpoints;
  if (!Number.isSafeInteger(index.spacing) || index.spacing < 1) {
    throw invalidIndexError(`invalid checkpoint spacing ${index.spacing}`);
  }
  if (checkpoints.length === 0) throw invalidIndexError("a gzip index without checkpoints");
  if (!checkpoints[0]!.memberStart || checkpoints[0]!.uncompressedOffset !== 0) {
    throw invalidIndexError("the first gzip checkpoint is not a member start at offset 0");
  }
  for (let i = 0; i < checkpoints.length; i++) {
    const problem = gzipCheckpointProblem(index, i);
    if (problem) throw invalidIndexError(`gzip checkpoint ${i}: ${problem}`);
  }
}

function gzipCheckpointProblem(index: GzipCheckpointIndex, i: number): string | undefined {
  const checkpoint = index.checkpoints[i]!;
  const previous = index.checkpoints[i - 1];
  if (previous && checkpoint.uncompressedOffset < previous.uncompressedOffset) {
    return "its uncompressed offset goes backwards";
  }
  if (previous && checkpoint.compressedBitOffset <= previous.compressedBitOffset) {
    return "its compressed offset does not advance";
  }
  if (checkpoint.uncompressedOffset > index.uncompressedSize) {
    return "it lies past the uncompressed size";
  }
  if (checkpoint.compressedBitOffset >= index.compressedSize * 8) {
    return "it lies past the compressed size";
  }
  if (checkpoint.memberStart && checkpoint.compressedBitOffset % 8 !== 0) {
    return "a member start that is not at a byte boundary";
  }
  return undefined;
}

function validateZstdIndex(index: ZstdFrameIndex): void {
  const frames = index.frames;
  if (index.uncompressedSize > 0 && frames[0]?.uncompressedOffset !== 0) {
    throw invalidIndexError("the first zstd frame does not start at uncompressed offset 0");
  }
  for (let i = 0; i < frames.length; i++) {
    const problem = zstdFrameProblem(index, i);
    if (problem) throw invalidIndexError(`zstd frame ${i}: ${problem}`);
  }
}

function zstdFrameProblem(index: ZstdFrameIndex, i: number): string | undefined {
  const frame = index.frames[i]!;
  const previous = index.frames[i - 1];
  if (previous && frame.uncompressedOffset <= previous.uncompressedOffset) {
    return "its uncompressed offset does not advance";
  }
  if (previous && frame.compressedOffset <= previous.compressedOffset) {
    return "its compressed offset does not advance";
  }
  if (frame.uncompressedOffset >= index.uncompressedSize) {
    return "it lies past the uncompressed size";
  }
  if (frame.compressedOffset >= index.compressedSize) return "it lies past the compressed size";
  return undefined;
}
