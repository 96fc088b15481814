import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

import { describe, expect, it } from "vitest";

import {
  createDecompressor,
  detectCompression,
  peekStreamHead,
  type Compression,
} from "../../src/layer/compression.js";
import { gzip, streamOf, zstd, zstdSkippableFrame } from "./tar-fixtures.js";

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function decompress(
  compression: Compression,
  blob: Buffer,
  chunkSize?: number,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const collect = new PassThrough();
  collect.on("data", (chunk: Buffer) => chunks.push(chunk));
  await pipeline(streamOf(blob, chunkSize), createDecompressor(compression), collect);
  return Buffer.concat(chunks);
}

describe("detectCompression", () => {
  const cases: Array<[string, number[], Compression]> = [
    ["gzip magic", [0x1f, 0x8b, 0x08, 0x00], "gzip"],
    ["zstd frame magic", [0x28, 0xb5, 0x2f, 0xfd], "zstd"],
    ["first zstd skippable magic", [0x50, 0x2a, 0x4d, 0x18], "zstd"],
    ["last zstd skippable magic", [0x5f, 0x2a, 0x4d, 0x18], "zstd"],
    ["almost skippable magic", [0x60, 0x2a, 0x4d, 0x18], "none"],
    ["a tar name", [0x65, 0x74, 0x63, 0x2f], "none"],
    ["two gzip bytes only", [0x1f, 0x8b], "gzip"],
    ["three zstd bytes only", [0x28, 0xb5, 0x2f], "none"],
    ["nothing", [], "none"],
  ];
  for (const [name, bytes, expected] of cases) {
    it(`detects ${name} as ${expected}`, () => {
      expect(detectCompression(Uint8Array.from(bytes))).toBe(expected);
    });
  }
});

describe("createDecompressor", () => {
  const text = Buffer.from("The quick brown fox jumps over the lazy dog. ".repeat(2000));

  it("reads every member of a multi-member gzip", async () => {
    const blob = Buffer.concat([
      gzip(text.subarray(0, 10)),
      gzip(text.subarray(10, 50_000)),
      gzip(text.subarray(50_000)),
    ]);
    expect((await decompress("gzip", blob, 100)).equals(text)).toBe(true);
  });

  it("reads every frame of a multi-frame zstd", async () => {
    const blob = Buffer.concat([
      zstd(text.subarray(0, 1000)),
      zstd(text.subarray(1000, 1001)),
      zstd(text.subarray(1001)),
    ]);
    expect((await decompress("zstd", blob, 77)).equals(text)).toBe(true);
  });

  it("skips zstd skippable frames anywhere", async () => {
    const blob = Buffer.concat([
      zstdSkippableFrame(Buffer.from("leading")),
      zstd(text.subarray(0, 5000)),
      zstdSkippableFrame(Buffer.alloc(0)),
      zstd(text.subarray(5000)),
      zstdSkippableFrame(Buffer.from("trailing")),
    ]);
    expect((await decompress("zstd", blob, 13)).equals(text)).toBe(true);
  });

  it("expands highly compressible zstd data", async () => {
    const zeros = Buffer.alloc(20 * 1024 * 1024);
    const blob = zstd(zeros);
    expect(blob.length).toBeLessThan(4096);
    expect((await decompress("zstd", blob)).equals(zeros)).toBe(true);
  });

  it("passes uncompressed bytes through", async () => {
    expect((await decompress("none", text, 999)).equals(text)).toBe(true);
  });
});

describe("peekStreamHead", () => {
  it("returns the head and replays it", async () => {
    const blob = Buffer.from("0123456789");
    const { head, stream } = await peekStreamHead(streamOf(blob, 1), 4);

    expect(head.length).toBeGreaterThanOrEqual(4);
    expect(head.subarray(0, 4).toString()).toBe("0123");
    expect((await readAll(stream)).toString()).toBe("0123456789");
  });

  it("returns a short head for a short stream", async () => {
    const { head, stream } = await peekStreamHead(Readable.from([Buffer.from("ab")]), 4);
    expect(head.toString()).toBe("ab");
    expect((await readAll(stream)).toString()).toBe("ab");
  });

  it("returns an empty head for an empty stream", async () => {
    const { head, stream } = await peekStreamHead(Readable.from([]), 4);
    expect(head.length).toBe(0);
    expect((await readAll(stream)).length).toBe(0);
  });

  it("waits for data that arrives later", async () => {
    const source = new PassThrough();
    const peeked = peekStreamHead(source, 4);
    source.write("ab");
    setTimeout(() => source.end("cdef"), 5);

    const { head, stream } = await peeked;
    expect(head.toString()).toBe("abcdef");
    expect((await readAll(stream)).toString()).toBe("abcdef");
  });

  it("rejects when the stream fails first", async () => {
    const source = new PassThrough();
    const failure = new Error("connection reset");
    const peeked = peekStreamHead(source, 4);
    source.destroy(failure);
    await expect(peeked).rejects.toBe(failure);
  });
});
