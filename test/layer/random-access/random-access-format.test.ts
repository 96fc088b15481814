import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";

import { describe, expect, it } from "vitest";

import type {
  GzipCheckpointIndex,
} from "../../../src/layer/random-access/gzip-checkpoint-index.js";
import { findGzipSpan } from "../../../src/layer/random-access/gzip-checkpoint-index.js";
import { readGzipRange } from "../../../src/layer/random-access/gzip-range-reader.js";
import {
  parseRandomAccessIndex,
  serializeRandomAccessIndex,
} from "../../../src/layer/random-access/random-access-format.js";
import type { RandomAccessIndex } from "../../../src/layer/random-access/random-access-index.js";
import { findZstdSpan } from "../../../src/layer/random-access/zstd-frame-index.js";
import { layerLikeData, readAll, type FetchLog } from "./fixtures.js";
import { indexGzip } from "./gzip-helpers.js";

const FOUR_GIB = 2 ** 32;

/** Returns a gzip index whose offsets lie past 4 GiB, as in a large layer. */
function largeGzipIndex(): RandomAccessIndex {
  const window = Buffer.from([1, 2, 3]);
  return {
    kind: "gzip",
    compressedSize: 3 * FOUR_GIB + 17,
    uncompressedSize: 9 * FOUR_GIB + 5,
    spacing: 4 * 1024 * 1024,
    checkpoints: [
      {
        uncompressedOffset: 0,
        compressedBitOffset: 80,
        memberStart: true,
        window: Buffer.alloc(0),
        endCrc: 1,
      },
      {
        uncompressedOffset: 5 * FOUR_GIB + 3,
        compressedBitOffset: 8 * FOUR_GIB * 2 + 5,
        memberStart: false,
        window,
        endCrc: 0xffffffff,
      },
      {
        uncompressedOffset: 8 * FOUR_GIB,
        compressedBitOffset: 8 * (3 * FOUR_GIB),
        memberStart: true,
        window: Buffer.alloc(0),
        endCrc: 7,
      },
    ],
  };
}

/** Moves every offset of an index by the given amounts, as if the blob had that much before it. */
function shiftedIndex(
  index: GzipCheckpointIndex,
  compressedBytes: number,
  uncompressedBytes: number,
): GzipCheckpointIndex {
  return {
    ...index,
    compressedSize: index.compressedSize + compressedBytes,
    uncompressedSize: index.uncompressedSize + uncompressedBytes,
    checkpoints: index.checkpoints.map((point) => ({
      ...point,
      uncompressedOffset: point.uncompressedOffset + uncompressedBytes,
      compressedBitOffset: point.compressedBitOffset + compressedBytes * 8,
    })),
  };
}

describe("random-access index format", () => {
  it("round-trips a real gzip index", async () => {
    const data = layerLikeData(2_000_000, 51);
    const { index } = await indexGzip(gzipSync(data));
    const full: RandomAccessIndex = { kind: "gzip", ...index };
    const bytes = serializeRandomAccessIndex(full);
    expect(parseRandomAccessIndex(bytes)).toEqual(full);
    const windows = index.checkpoints.reduce((sum, point) => sum + point.window.length, 0);
    expect(bytes.length).toBe(4 + 1 + 1 + 8 + 8 + 8 + 4 + 25 * index.checkpoints.length + windows);
  });

  it("round-trips offsets above 4 GiB", () => {
    const index = largeGzipIndex();
    expect(parseRandomAccessIndex(serializeRandomAccessIndex(index))).toEqual(index);
  });

  it("round-trips zstd and uncompressed indexes", () => {
    const zstd: RandomAccessIndex = {
      kind: "zstd",
      compressedSize: 2 * FOUR_GIB,
      uncompressedSize: 7 * FOUR_GIB,
      frames: [
        { compressedOffset: 0, uncompressedOffset: 0, crc: 5 },
        { compressedOffset: FOUR_GIB + 1, uncompressedOffset: 3 * FOUR_GIB, crc: 0xfffffffe },
      ],
    };
    const size = 5 * FOUR_GIB;
    const none: RandomAccessIndex = { kind: "none", compressedSize: size, uncompressedSize: size };
    expect(parseRandomAccessIndex(serializeRandomAccessIndex(zstd))).toEqual(zstd);
    expect(parseRandomAccessIndex(serializeRandomAccessIndex(none))).toEqual(none);
  });

  it("rejects a damaged index", () => {
    const bytes = serializeRandomAccessIndex(largeGzipIndex());
    const cases: Array<[string, Buffer, RegExp]> = [
      ["bad magic", Buffer.concat([Buffer.from("XXXX"), bytes.subarray(4)]), /missing the RDRA/],
      ["truncated", bytes.subarray(0, bytes.length - 1), /truncated at byte/],
      ["trailing bytes", Buffer.concat([bytes, Buffer.of(0)]), /1 bytes after the index/],
      [
        "other version",
        Buffer.concat([bytes.subarray(0, 4), Buffer.of(9), bytes.subarray(5)]),
        /unsupported version 9/,
      ],
    ];
    for (const [name, damaged, message] of cases) {
      expect(() => parseRandomAccessIndex(damaged), name).toThrow(message);
    }
  });

  it("rejects checkpoints out of order", () => {
    const index = largeGzipIndex() as { kind: "gzip" } & GzipCheckpointIndex;
    [index.checkpoints[1], index.checkpoints[2]] = [index.checkpoints[2]!, index.checkpoints[1]!];
    expect(() => parseRandomAccessIndex(serializeRandomAccessIndex(index))).toThrow(
      /gzip checkpoint 2: its uncompressed offset goes backwards/,
    );
  });

  it("rejects offsets above 2^53", () => {
    const index: RandomAccessIndex = { kind: "none", compressedSize: 1, uncompressedSize: 1 };
    const bytes = serializeRandomAccessIndex(index);
    bytes.writeBigUInt64LE(2n ** 60n, 6);
    expect(() => parseRandomAccessIndex(bytes)).toThrow(/above 2\^53/);
  });
});

describe("offsets past 4 GiB", () => {
  it("finds gzip spans", () => {
    const index = largeGzipIndex() as { kind: "gzip" } & GzipCheckpointIndex;
    const span = findGzipSpan(index, 5 * FOUR_GIB + 10, 100);
    expect(span.first).toBe(1);
    expect(span.end).toBe(2);
    expect(span.compressedStart).toBe(2 * FOUR_GIB);
    expect(span.compressedEndInclusive).toBe(3 * FOUR_GIB - 1);
    const last = findGzipSpan(index, 9 * FOUR_GIB, 5);
    expect(last.first).toBe(2);
    expect(last.compressedEndInclusive).toBe(3 * FOUR_GIB + 16);
  });

  it("finds zstd spans", () => {
    const frames = [
      { compressedOffset: 0, uncompressedOffset: 0, crc: 0 },
      { compressedOffset: FOUR_GIB + 9, uncompressedOffset: 3 * FOUR_GIB, crc: 0 },
    ];
    const index = { compressedSize: 2 * FOUR_GIB, uncompressedSize: 7 * FOUR_GIB, frames };
    expect(findZstdSpan(index, 3 * FOUR_GIB - 1, 2)).toEqual({
      first: 0,
      end: 2,
      compressedStart: 0,
      compressedEndInclusive: 2 * FOUR_GIB - 1,
    });
  });

  it("reads a blob placed 5 GiB into a larger one", async () => {
    const data = layerLikeData(1_000_000, 52);
    const blob = gzipSync(data);
    const { index } = await indexGzip(blob);
    const compressedShift = 5 * FOUR_GIB + 3;
    const uncompressedShift = 11 * FOUR_GIB + 1;
    const large = shiftedIndex(index, compressedShift, uncompressedShift);
    const log: FetchLog = { calls: [], bytes: 0 };
    const fetch = async (start: number, end: number) => {
      log.calls.push({ start, endInclusive: end });
      return Readable.from([blob.subarray(start - compressedShift, end + 1 - compressedShift)]);
    };
    const offset = uncompressedShift + 654_321;
    const read = await readAll(readGzipRange(large, fetch, offset, 200_000));
    expect(read.equals(data.subarray(654_321, 854_321))).toBe(true);
    expect(log.calls[0]!.start).toBeGreaterThan(FOUR_GIB);
  });
});
