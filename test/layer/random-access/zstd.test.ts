import { Readable } from "node:stream";

import { describe, expect, it } from "vitest";

import {
  createIndexingDecompressor,
  isRandomAccessUseful,
  largestAccessInterval,
  readUncompressedRange,
  type RandomAccessIndex,
} from "../../../src/layer/random-access/index.js";
import { ZstdFrameIndexer } from "../../../src/layer/random-access/zstd-indexer.js";
import { readZstdRange } from "../../../src/layer/random-access/zstd-range-reader.js";
import type { ZstdFrameIndex } from "../../../src/layer/random-access/zstd-frame-index.js";
import { zstdSkippableFrame } from "../tar-fixtures.js";
import {
  layerLikeData,
  memoryFetch,
  readAll,
  runThrough,
  runTool,
  seededRandom,
  type FetchLog,
} from "./fixtures.js";

/** Compresses `data` with the zstd command; `--stream-size` makes it write Frame_Content_Size. */
function zstdFrame(data: Buffer, withContentSize: boolean): Buffer {
  const sizeArgs = withContentSize ? [`--stream-size=${data.length}`] : [];
  return runTool("zstd", ["-q", "-c", "-3", "--no-check", ...sizeArgs], data);
}

async function indexZstd(
  blob: Buffer,
  chunkSize = 0,
): Promise<{ index: ZstdFrameIndex; output: Buffer }> {
  const indexer = new ZstdFrameIndexer({ streamName: "test blob" });
  const output = await runThrough(indexer.stream, blob, chunkSize);
  return { index: indexer.index(), output };
}

async function expectZstdRead(
  index: ZstdFrameIndex,
  blob: Buffer,
  data: Buffer,
  offset: number,
  length: number,
) {
  const read = await readAll(readZstdRange(index, memoryFetch(blob), offset, length));
  expect(read.length, `length of read at ${offset}+${length}`).toBe(length);
  const expected = data.subarray(offset, offset + length);
  expect(read.equals(expected), `bytes of read at ${offset}+${length}`).toBe(true);
}

describe("zstd frames", () => {
  const pieces = Array.from({ length: 8 }, (_, i) => layerLikeData(150_000 + i * 10_000, 60 + i));
  const data = Buffer.concat(pieces);
  const blob = Buffer.concat([
    zstdSkippableFrame(Buffer.from("leading skippable frame")),
    ...pieces.flatMap((piece, i) => [
      zstdFrame(piece, i % 2 === 0),
      ...(i === 3 ? [zstdSkippableFrame(Buffer.alloc(100)), zstdFrame(Buffer.alloc(0), true)] : []),
    ]),
  ]);

  it("records frames that produce data", async () => {
    const { index, output } = await indexZstd(blob);
    expect(output.equals(data)).toBe(true);
    expect(index.frames.length).toBe(pieces.length);
    let offset = 0;
    index.frames.forEach((frame, i) => {
      expect(frame.uncompressedOffset, `frame ${i}`).toBe(offset);
      offset += pieces[i]!.length;
    });
    expect(index.compressedSize).toBe(blob.length);
  });

  it("parses frames split into small chunks", async () => {
    const { output } = await indexZstd(blob, 5);
    expect(output.equals(data)).toBe(true);
  });

  it("reads ranges within and across frames", async () => {
    const { index } = await indexZstd(blob);
    const random = seededRandom(61);
    for (let i = 0; i < 60; i++) {
      const length = 1 + Math.floor(random() * 300_000);
      const offset = Math.floor(random() * (data.length - length));
      await expectZstdRead(index, blob, data, offset, length);
    }
    for (const frame of index.frames.slice(1)) {
      await expectZstdRead(index, blob, data, frame.uncompressedOffset - 2, 4);
    }
    await expectZstdRead(index, blob, data, 0, data.length);
    await expectZstdRead(index, blob, data, data.length - 1, 1);
  });

  it("fetches one frame for small reads", async () => {
    const { index } = await indexZstd(blob);
    const log: FetchLog = { calls: [], bytes: 0 };
    const frame = index.frames[5]!;
    await readAll(readZstdRange(index, memoryFetch(blob, log), frame.uncompressedOffset + 10, 100));
    const endInclusive = index.frames[6]!.compressedOffset - 1;
    expect(log.calls).toEqual([{ start: frame.compressedOffset, endInclusive }]);
  });

  it("fails on a changed byte", async () => {
    const { index } = await indexZstd(blob);
    for (let trial = 1; trial <= 10; trial++) {
      const damaged = Buffer.from(blob);
      const position = Math.floor((blob.length * trial) / 11);
      damaged[position] = damaged[position]! ^ 0x04;
      const reading = readAll(readZstdRange(index, memoryFetch(damaged), 0, data.length));
      await expect(reading, `byte ${position}`).rejects.toMatchObject({ code: "INVALID_LAYER" });
    }
  });

  it("rejects a frame with a wrong content size", async () => {
    const frame = zstdFrame(Buffer.alloc(1000, 1), true);
    const descriptor = frame[4]!;
    expect(descriptor >> 6, "Frame_Content_Size_flag").toBe(1);
    // The 2-byte Frame_Content_Size follows the magic, the descriptor and any window descriptor.
    const sizeOffset = descriptor & 0x20 ? 5 : 6;
    expect(frame.readUInt16LE(sizeOffset) + 256).toBe(1000);
    frame.writeUInt16LE(1001 - 256, sizeOffset);
    await expect(indexZstd(frame)).rejects.toThrow(/declares|zstd decoding failed/);
  });

  it("rejects data that is not zstd", async () => {
    const damaged = Buffer.concat([zstdFrame(Buffer.from("abc"), true), Buffer.from("not zstd")]);
    await expect(indexZstd(damaged)).rejects.toThrow(/invalid zstd frame magic 0x20746f6e/);
  });
});

describe("single-frame zstd", () => {
  it("reports a large frame as not useful", async () => {
    const data = layerLikeData(3_000_000, 70);
    const blob = zstdFrame(data, false);
    const { index } = await indexZstd(blob);
    const full: RandomAccessIndex = { kind: "zstd", ...index };
    expect(index.frames.length).toBe(1);
    expect(largestAccessInterval(full)).toBe(data.length);
    expect(isRandomAccessUseful(full, 1_000_000)).toBe(false);
    expect(isRandomAccessUseful(full)).toBe(true);
    await expectZstdRead(index, blob, data, 2_999_000, 1000);
  });
});

describe("indexing decompressor", () => {
  const data = layerLikeData(500_000, 80);

  it("indexes and reads an uncompressed layer", async () => {
    const indexing = createIndexingDecompressor("none");
    const output = await runThrough(indexing.stream, data);
    const index = indexing.index();
    expect(output.equals(data)).toBe(true);
    const size = data.length;
    expect(index).toEqual({ kind: "none", compressedSize: size, uncompressedSize: size });
    const log: FetchLog = { calls: [], bytes: 0 };
    const read = await readAll(readUncompressedRange(index, memoryFetch(data, log), 1000, 2000));
    expect(read.equals(data.subarray(1000, 3000))).toBe(true);
    expect(log.calls).toEqual([{ start: 1000, endInclusive: 2999 }]);
  });

  it("indexes and reads each compression", async () => {
    const { gzipSync } = await import("node:zlib");
    const blobs = { gzip: gzipSync(data), zstd: zstdFrame(data, true) } as const;
    for (const [compression, blob] of Object.entries(blobs) as Array<["gzip" | "zstd", Buffer]>) {
      const indexing = createIndexingDecompressor(compression, { spacing: 64 * 1024 });
      expect(() => indexing.index()).toThrow(/not finished/);
      const output = await runThrough(indexing.stream, blob);
      expect(output.equals(data), compression).toBe(true);
      const index = indexing.index();
      expect(index.kind).toBe(compression);
      const read = await readAll(readUncompressedRange(index, memoryFetch(blob), 12_345, 67_890));
      expect(read.equals(data.subarray(12_345, 80_235)), compression).toBe(true);
    }
  });

  it("rejects reads past the end", () => {
    const index: RandomAccessIndex = { kind: "none", compressedSize: 10, uncompressedSize: 10 };
    const fetch = async () => Readable.from([]);
    const read = () => readUncompressedRange(index, fetch, 5, 6);
    expect(read).toThrow(/invalid read at offset 5 length 6/);
  });
});
