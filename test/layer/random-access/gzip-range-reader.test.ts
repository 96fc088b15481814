import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";

import { beforeAll, describe, expect, it } from "vitest";

import {
  findGzipSpan,
  type GzipCheckpointIndex,
} from "../../../src/layer/random-access/gzip-checkpoint-index.js";
import { GzipCheckpointIndexer } from "../../../src/layer/random-access/gzip-indexer.js";
import { readGzipRange } from "../../../src/layer/random-access/gzip-range-reader.js";
import { chunksOf, layerLikeData, runThrough, seededRandom, type FetchLog } from "./fixtures.js";
import { expectRangeMatches, indexGzip, readRange, TEST_SPACING } from "./gzip-helpers.js";

describe("gzip range reader", () => {
  const data = layerLikeData(6 * 1024 * 1024, 3);
  const blob = gzipSync(data);
  let index: GzipCheckpointIndex;
  let output: Buffer;

  beforeAll(async () => {
    ({ index, output } = await indexGzip(blob));
  });

  it("passes the uncompressed data on unchanged", () => {
    expect(output.length).toBe(data.length);
    expect(output.equals(data)).toBe(true);
  });

  it("records checkpoints at the configured spacing", () => {
    const checkpoints = index.checkpoints;
    expect(checkpoints.length).toBeGreaterThan(data.length / (4 * TEST_SPACING));
    for (let i = 1; i < checkpoints.length; i++) {
      const gap = checkpoints[i]!.uncompressedOffset - checkpoints[i - 1]!.uncompressedOffset;
      expect(gap).toBeGreaterThanOrEqual(TEST_SPACING);
    }
    expect(index.uncompressedSize).toBe(data.length);
    expect(index.compressedSize).toBe(blob.length);
  });

  it("has checkpoints inside a byte", () => {
    const unaligned = index.checkpoints.filter((point) => point.compressedBitOffset % 8 !== 0);
    expect(unaligned.length).toBeGreaterThan(index.checkpoints.length / 2);
  });

  it("reads random ranges", async () => {
    const random = seededRandom(11);
    for (let i = 0; i < 150; i++) {
      const length = 1 + Math.floor(random() * (random() < 0.2 ? 400_000 : 5_000));
      const offset = Math.floor(random() * (data.length - length));
      await expectRangeMatches(index, blob, data, offset, length);
    }
  });

  it("reads around every checkpoint", async () => {
    for (const point of index.checkpoints.slice(1)) {
      const offset = point.uncompressedOffset;
      await expectRangeMatches(index, blob, data, offset, 1);
      await expectRangeMatches(index, blob, data, offset - 1, 1);
      await expectRangeMatches(index, blob, data, offset - 3, 7);
    }
  });

  it("reads the start, the end and everything", async () => {
    await expectRangeMatches(index, blob, data, 0, 1);
    await expectRangeMatches(index, blob, data, 0, 100_000);
    await expectRangeMatches(index, blob, data, data.length - 1, 1);
    await expectRangeMatches(index, blob, data, data.length - 100_000, 100_000);
    await expectRangeMatches(index, blob, data, 0, data.length);
  });

  it("returns nothing for an empty range", async () => {
    const read = await readRange(index, blob, data.length, 0);
    expect(read.length).toBe(0);
  });

  it("fetches one span for a small read", async () => {
    const log: FetchLog = { calls: [], bytes: 0 };
    const middle = index.checkpoints[10]!.uncompressedOffset + 100;
    await readRange(index, blob, middle, 1000, log);
    const span = findGzipSpan(index, middle, 1000);
    const expectedBytes = span.compressedEndInclusive + 1 - span.compressedStart;
    const request = { start: span.compressedStart, endInclusive: span.compressedEndInclusive };
    expect(log.calls).toEqual([request]);
    expect(log.bytes).toBe(expectedBytes);
    expect(log.bytes).toBeLessThan(blob.length / 10);
  });

  it("closes the fetch on early stop", async () => {
    let fetched: Readable | undefined;
    const fetch = async (start: number, end: number) => {
      fetched = Readable.from(chunksOf(blob.subarray(start, end + 1), 4096));
      return fetched;
    };
    const stream = readGzipRange(index, fetch, 0, data.length);
    for await (const _ of stream) break;
    expect(stream.destroyed).toBe(true);
    // The fetch closes once the inflater's write in progress has finished.
    // Without the close, the wait runs into the test's timeout.
    const opened = fetched!;
    if (!opened.destroyed) await new Promise((resolve) => opened.once("close", resolve));
    expect(opened.destroyed).toBe(true);
  });
});

describe("gzip indexing pass", () => {
  it("handles input in one-byte chunks", async () => {
    const data = layerLikeData(300_000, 5);
    const blob = gzipSync(data);
    const { index, output } = await indexGzip(blob, 16 * 1024, 1);
    expect(output.equals(data)).toBe(true);
    expect(index.checkpoints.length).toBeGreaterThan(2);
    await expectRangeMatches(index, blob, data, 150_000, 100_000);
  });

  it("uses the default spacing of 4 MiB", async () => {
    const data = layerLikeData(10 * 1024 * 1024, 9);
    const blob = gzipSync(data);
    const indexer = new GzipCheckpointIndexer();
    await runThrough(indexer.stream, blob);
    const index = indexer.index();
    expect(index.spacing).toBe(4 * 1024 * 1024);
    expect(index.checkpoints.length).toBe(3);
  });

  it("rejects an invalid spacing", async () => {
    const indexing = indexGzip(gzipSync(Buffer.from("x")), 0);
    await expect(indexing).rejects.toThrow(/invalid checkpoint spacing 0/);
  });
});
