import { execFileSync } from "node:child_process";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as zlib from "node:zlib";

import { describe, expect, it } from "vitest";

import { createZstdDecompressor, isNodeZstdUsable } from "../../src/layer/zstd-decompressor.js";
import { zstd, zstdSkippableFrame } from "./tar-fixtures.js";

/** Decompresses `blob` through createZstdDecompressor, written in one chunk. */
async function decompress(blob: Buffer): Promise<Buffer> {
  const output: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      output.push(chunk);
      callback();
    },
  });
  await pipeline(Readable.from([blob]), createZstdDecompressor(), sink);
  return Buffer.concat(output);
}

describe("zstd decompressor", () => {
  it("reads frames around a skippable frame", async () => {
    const blob = Buffer.concat([zstd(Buffer.from("first ")), zstdSkippableFrame(Buffer.from("skip")), zstd(Buffer.from("second"))]);
    expect((await decompress(blob)).toString()).toBe("first second");
  });

  it("uses Node's decoder only where it reads every frame", () => {
    const frames = Buffer.concat([zstd(Buffer.from("a")), zstd(Buffer.from("b"))]);
    const sync = (zlib as { zstdDecompressSync?: (data: Buffer) => Buffer }).zstdDecompressSync;
    const readsEveryFrame = sync !== undefined && sync(frames).toString() === "ab";
    expect(isNodeZstdUsable()).toBe(readsEveryFrame);
  });

  it("waits for the reader", async () => {
    const zeros = 64 * 1024 * 1024;
    const blob = execFileSync("zstd", ["-q", "-c", "-19"], { input: Buffer.alloc(zeros) });
    const decompressor = createZstdDecompressor();
    decompressor.write(blob);
    decompressor.end();
    await new Promise((resolve) => setTimeout(resolve, 50));
    // One 256-byte slice of RLE blocks gives at most 8 MiB, and the decoder
    // stops after the slice that fills the readable buffer.
    expect(decompressor.readableLength).toBeLessThanOrEqual(8 * 1024 * 1024 + 64 * 1024);

    let total = 0;
    let nonZero = 0;
    for await (const chunk of decompressor as AsyncIterable<Buffer>) {
      total += chunk.length;
      nonZero += chunk.filter((byte) => byte !== 0).length;
    }
    expect(total).toBe(zeros);
    expect(nonZero).toBe(0);
  });

  it("ends a pipeline whose reader fails", async () => {
    const blob = zstd(Buffer.alloc(1024 * 1024, 0x61));
    const failing = new Writable({
      write(_chunk, _encoding, callback) {
        callback(new Error("the reader failed"));
      },
    });
    // A stage before the decompressor, as the layer pass counts the compressed bytes there.
    const passOn = async function* (chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) yield chunk;
    };
    await expect(pipeline(Readable.from([blob]), passOn, createZstdDecompressor(), failing)).rejects.toThrow("the reader failed");
  });

  it("fails on corrupt data", async () => {
    const blob = zstd(Buffer.from("some text to compress, some text to compress"));
    blob.fill(0xff, 4, 9);
    await expect(decompress(blob)).rejects.toThrow();
  });
});
