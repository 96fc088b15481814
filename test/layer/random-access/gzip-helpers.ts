import { expect } from "vitest";

import { readGzipRange } from "../../../src/layer/random-access/gzip-range-reader.js";
import type { BlockInflaterKind } from "../../../src/layer/random-access/block-inflater.js";
import { GzipCheckpointIndexer } from "../../../src/layer/random-access/gzip-indexer.js";
import type {
  GzipCheckpointIndex,
} from "../../../src/layer/random-access/gzip-checkpoint-index.js";
import { memoryFetch, readAll, runThrough, type FetchLog } from "./fixtures.js";

/** Checkpoint spacing in tests: small, so that a few MiB of data give many checkpoints. */
export const TEST_SPACING = 64 * 1024;

/** Both inflaters that the indexing pass can run. */
export const BLOCK_INFLATERS: BlockInflaterKind[] = ["native", "pako"];

/** Runs the indexing pass over `blob` and returns the index and the uncompressed output. */
export async function indexGzip(
  blob: Buffer,
  spacing = TEST_SPACING,
  chunkSize = 0,
  inflater?: BlockInflaterKind,
): Promise<{ index: GzipCheckpointIndex; output: Buffer }> {
  const indexer = new GzipCheckpointIndexer({ spacing, streamName: "test blob", ...(inflater && { inflater }) });
  const output = await runThrough(indexer.stream, blob, chunkSize);
  return { index: indexer.index(), output };
}

/** Reads a range through the gzip reader from an in-memory blob. */
export async function readRange(
  index: GzipCheckpointIndex,
  blob: Buffer,
  offset: number,
  length: number,
  log?: FetchLog,
): Promise<Buffer> {
  return readAll(readGzipRange(index, memoryFetch(blob, log), offset, length));
}

/** Asserts that a read of [offset, offset + length) returns exactly those bytes of `data`. */
export async function expectRangeMatches(
  index: GzipCheckpointIndex,
  blob: Buffer,
  data: Buffer,
  offset: number,
  length: number,
): Promise<void> {
  const read = await readRange(index, blob, offset, length);
  expect(read.length, `length of read at ${offset}+${length}`).toBe(length);
  const expected = data.subarray(offset, offset + length);
  expect(read.equals(expected), `bytes of read at ${offset}+${length}`).toBe(true);
}
