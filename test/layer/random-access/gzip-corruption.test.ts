import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";

import { beforeAll, describe, expect, it } from "vitest";

import type {
  GzipCheckpointIndex,
} from "../../../src/layer/random-access/gzip-checkpoint-index.js";
import { readGzipRange } from "../../../src/layer/random-access/gzip-range-reader.js";
import { RandomAccessError } from "../../../src/layer/random-access/random-access-errors.js";
import { layerLikeData, readAll } from "./fixtures.js";
import { indexGzip, readRange } from "./gzip-helpers.js";

async function readError(promise: Promise<Buffer>): Promise<RandomAccessError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(RandomAccessError);
  return error as RandomAccessError;
}

describe("gzip reader on damaged data", () => {
  const data = layerLikeData(2_000_000, 41);
  let index: GzipCheckpointIndex;
  const blobs = { dynamic: gzipSync(data), stored: gzipSync(data, { level: 0 }) };
  const indexes: Record<string, GzipCheckpointIndex> = {};

  beforeAll(async () => {
    for (const [name, blob] of Object.entries(blobs)) indexes[name] = (await indexGzip(blob)).index;
    index = indexes.dynamic!;
  });

  for (const kind of ["dynamic", "stored"] as const) {
    it(`fails on a changed byte in ${kind} blocks`, async () => {
      const blob = blobs[kind];
      const kindIndex = indexes[kind]!;
      for (let trial = 1; trial <= 20; trial++) {
        const damaged = Buffer.from(blob);
        const position = Math.floor((blob.length * trial) / 21);
        damaged[position] = damaged[position]! ^ 0x10;
        const error = await readError(readRange(kindIndex, damaged, 0, data.length));
        expect(error.code).toBe("INVALID_LAYER");
      }
    });
  }

  it("detects damage past the range", async () => {
    const blob = blobs.stored;
    const kindIndex = indexes.stored!;
    const checkpoint = kindIndex.checkpoints[5]!;
    const next = kindIndex.checkpoints[6]!;
    const damaged = Buffer.from(blob);
    const middleBit = (checkpoint.compressedBitOffset + next.compressedBitOffset) / 2;
    const position = Math.floor(middleBit / 8) + 100;
    damaged[position] = damaged[position]! ^ 0x01;
    const error = await readError(readRange(kindIndex, damaged, checkpoint.uncompressedOffset, 10));
    expect(error.message).toMatch(/CRC-32 mismatch/);
  });

  it("rejects a short fetch", async () => {
    const blob = blobs.dynamic;
    const short = async (start: number, end: number) => {
      return Readable.from([blob.subarray(start, end - 10)]);
    };
    const error = await readError(readAll(readGzipRange(index, short, 100_000, 1000)));
    expect(error.message).toMatch(/unexpected end of data/);
  });

  it("rejects a long fetch", async () => {
    const blob = blobs.dynamic;
    const long = async (start: number, end: number) => {
      return Readable.from([blob.subarray(start, end + 50)]);
    };
    const error = await readError(readAll(readGzipRange(index, long, 100_000, 1000)));
    expect(error.message).toMatch(/returned more bytes/);
  });

  it("passes on a fetch failure", async () => {
    const failing = async () => {
      throw new Error("connection reset");
    };
    await expect(readAll(readGzipRange(index, failing, 0, 10))).rejects.toThrow("connection reset");
  });

  it("rejects a range past the end", () => {
    const fetch = async () => Readable.from([]);
    const options = { streamName: "layer sha256:ab" };
    const read = () => readGzipRange(index, fetch, data.length - 5, 6, options);
    expect(read).toThrow(RandomAccessError);
    expect(read).toThrow(/layer sha256:ab: invalid read at offset 1999995 length 6/);
  });

  it("rejects a negative offset", () => {
    const fetch = async () => Readable.from([]);
    expect(() => readGzipRange(index, fetch, -1, 1)).toThrow(/invalid read at offset -1/);
  });
});

describe("gzip indexing pass on damaged data", () => {
  const data = layerLikeData(300_000, 42);
  const blob = gzipSync(data);

  it("rejects a wrong trailer CRC", async () => {
    const damaged = Buffer.from(blob);
    damaged[damaged.length - 8] = damaged[damaged.length - 8]! ^ 1;
    await expect(indexGzip(damaged)).rejects.toThrow(/gzip member CRC mismatch/);
  });

  it("rejects a wrong trailer length", async () => {
    const damaged = Buffer.from(blob);
    damaged[damaged.length - 1] = damaged[damaged.length - 1]! ^ 1;
    await expect(indexGzip(damaged)).rejects.toThrow(/gzip member length mismatch/);
  });

  it("rejects a truncated blob", async () => {
    const truncated = blob.subarray(0, blob.length - 100);
    await expect(indexGzip(truncated)).rejects.toThrow(/unexpected end of data/);
  });

  it("rejects data after the last member", async () => {
    const damaged = Buffer.concat([blob, Buffer.from("junk that is not gzip")]);
    await expect(indexGzip(damaged)).rejects.toThrow(/invalid gzip magic/);
  });

  it("rejects invalid deflate data", async () => {
    const damaged = Buffer.from(blob);
    damaged.fill(0xff, 20, 60);
    await expect(indexGzip(damaged)).rejects.toThrow(/invalid deflate data/);
  });
});
