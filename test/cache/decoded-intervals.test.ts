import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";

import { DecodedIntervals, intervalsCovering, type AccessInterval } from "../../src/cache/decoded-intervals.js";
import { readGzipRange } from "../../src/layer/random-access/gzip-range-reader.js";
import type { RandomAccessIndex } from "../../src/layer/random-access/index.js";
import { indexGzip } from "../layer/random-access/gzip-helpers.js";
import { layerLikeData, memoryFetch, readAll, seededRandom, type FetchLog } from "../layer/random-access/fixtures.js";

async function gzipLayer(size: number) {
  const data = layerLikeData(size, 3);
  const blob = gzipSync(data);
  const { index: gzipIndex } = await indexGzip(blob);
  const index: RandomAccessIndex = { kind: "gzip", ...gzipIndex };
  return { data, blob, index };
}

/** Returns a decoder that counts its calls and reads each interval from an in-memory blob. */
function countingDecoder(index: RandomAccessIndex & { kind: "gzip" }, blob: Buffer, log?: FetchLog) {
  const calls: AccessInterval[] = [];
  const decode = async (interval: AccessInterval) => {
    calls.push(interval);
    return readAll(readGzipRange(index, memoryFetch(blob, log), interval.start, interval.end - interval.start));
  };
  return { calls, decode };
}

describe("DecodedIntervals", () => {
  it("returns the exact bytes of random ranges", async () => {
    const { data, blob, index } = await gzipLayer(2 * 1024 * 1024);
    if (index.kind !== "gzip") throw new Error("expected a gzip index");
    expect(index.checkpoints.length).toBeGreaterThan(8);
    const intervals = new DecodedIntervals(64 * 1024 * 1024);
    const { decode } = countingDecoder(index, blob);
    const random = seededRandom(11);
    for (let i = 0; i < 200; i++) {
      const offset = Math.floor(random() * (data.length - 1));
      const length = 1 + Math.floor(random() * Math.min(300_000, data.length - offset - 1));
      const bytes = await intervals.read("sha256:test", index, decode, offset, length);
      expect(bytes, `read at ${offset}+${length}`).toBeDefined();
      expect(bytes!.equals(data.subarray(offset, offset + length)), `bytes at ${offset}+${length}`).toBe(true);
    }
  });

  it("decodes each interval once for neighbouring reads", async () => {
    const { data, blob, index } = await gzipLayer(1024 * 1024);
    if (index.kind !== "gzip") throw new Error("expected a gzip index");
    const intervals = new DecodedIntervals(64 * 1024 * 1024);
    const { calls, decode } = countingDecoder(index, blob);
    const fileSize = 1000;
    for (let offset = 0; offset + fileSize <= data.length; offset += fileSize) {
      const bytes = await intervals.read("sha256:test", index, decode, offset, fileSize);
      expect(bytes!.equals(data.subarray(offset, offset + fileSize))).toBe(true);
    }
    const starts = calls.map((interval) => interval.start);
    expect(new Set(starts).size).toBe(starts.length);
    expect(calls.length).toBe(intervalsCovering(index, 0, data.length)!.length);
  });

  it("shares one decode between concurrent reads", async () => {
    const { data, blob, index } = await gzipLayer(512 * 1024);
    if (index.kind !== "gzip") throw new Error("expected a gzip index");
    const intervals = new DecodedIntervals(64 * 1024 * 1024);
    const { calls, decode } = countingDecoder(index, blob);
    const reads = await Promise.all([10, 20, 30].map((offset) => intervals.read("sha256:test", index, decode, offset, 100)));
    expect(calls.length).toBe(1);
    reads.forEach((bytes, i) => expect(bytes!.equals(data.subarray(10 * (i + 1), 10 * (i + 1) + 100))).toBe(true));
  });

  it("keeps no interval whose decode failed", async () => {
    const { data, blob, index } = await gzipLayer(512 * 1024);
    if (index.kind !== "gzip") throw new Error("expected a gzip index");
    const intervals = new DecodedIntervals(64 * 1024 * 1024);
    const damaged = Buffer.from(blob);
    // A byte inside the compressed span of the first interval.
    damaged[200] = damaged[200]! ^ 0xff;
    const bad = countingDecoder(index, damaged);
    await expect(intervals.read("sha256:test", index, bad.decode, 0, 1000)).rejects.toThrow(/layer|CRC|invalid|corrupt/i);

    const good = countingDecoder(index, blob);
    const bytes = await intervals.read("sha256:test", index, good.decode, 0, 1000);
    expect(good.calls.length).toBe(1);
    expect(bytes!.equals(data.subarray(0, 1000))).toBe(true);
  });

  it("leaves ranges past the end to the caller", async () => {
    const { data, blob, index } = await gzipLayer(256 * 1024);
    if (index.kind !== "gzip") throw new Error("expected a gzip index");
    const intervals = new DecodedIntervals(64 * 1024 * 1024);
    const { calls, decode } = countingDecoder(index, blob);
    expect(await intervals.read("sha256:test", index, decode, data.length - 10, 20)).toBeUndefined();
    expect(await intervals.read("sha256:test", index, decode, data.length + 5, 1)).toBeUndefined();
    expect(calls.length).toBe(0);
  });

  it("skips plain layers", () => {
    const plain: RandomAccessIndex = { kind: "none", compressedSize: 100, uncompressedSize: 100 };
    expect(intervalsCovering(plain, 0, 10)).toBeUndefined();
  });
});

describe("DecodedIntervals runs", () => {
  it("decodes neighbouring missing intervals in one call", async () => {
    const { data, blob, index } = await gzipLayer(1024 * 1024);
    if (index.kind !== "gzip") throw new Error("expected a gzip index");
    const boundary = index.checkpoints[3]!.uncompressedOffset;
    const intervals = new DecodedIntervals(64 * 1024 * 1024);
    const log: FetchLog = { calls: [], bytes: 0 };
    const { calls, decode } = countingDecoder(index, blob, log);
    const bytes = await intervals.read("sha256:test", index, decode, boundary - 500, 1000);
    expect(bytes!.equals(data.subarray(boundary - 500, boundary + 500))).toBe(true);
    expect(calls.length).toBe(1);
    expect(log.calls.length).toBe(1);

    const again = await intervals.read("sha256:test", index, decode, boundary + 100, 50);
    expect(again!.equals(data.subarray(boundary + 100, boundary + 150))).toBe(true);
    expect(calls.length).toBe(1);
  });
});
