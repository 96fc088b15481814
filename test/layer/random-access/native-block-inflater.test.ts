import { randomBytes } from "node:crypto";
import { constants, createDeflateRaw, deflateRawSync, gzipSync } from "node:zlib";

import { describe, expect, it } from "vitest";

import { findBlockStart } from "../../../src/layer/random-access/block-start-search.js";
import type { GzipCheckpointIndex } from "../../../src/layer/random-access/gzip-checkpoint-index.js";
import { PakoBlockInflater } from "../../../src/layer/random-access/pako-block-inflater.js";
import { HistoryWindow } from "../../../src/layer/random-access/history-window.js";
import { isNativeInflateUsable, NativeRawInflate } from "../../../src/layer/random-access/native-raw-inflate.js";
import { hasTool, layerLikeData, runTool } from "./fixtures.js";
import { expectRangeMatches, indexGzip } from "./gzip-helpers.js";

const SPACING = 64 * 1024;

/**
 * Lists every block boundary of a one-member blob with a 10-byte gzip header, as
 * `uncompressedOffset:bitOffset`, found by pako. Boundaries with no output
 * between them, as around an empty stored block, are all listed.
 */
function allBoundaries(blob: Buffer): Set<string> {
  const headerLength = 10;
  expect(blob[3], "gzip header flags").toBe(0);
  const inflater = new PakoBlockInflater();
  inflater.setInput(blob.subarray(headerLength));
  const boundaries = new Set([`0:${headerLength * 8}`]);
  let uncompressed = 0;
  for (;;) {
    const step = inflater.step();
    uncompressed += inflater.lastStepOutput().length;
    inflater.takeOutput();
    if (step.streamEnd) break;
    if (step.boundaryBitOffset !== undefined) boundaries.add(`${uncompressed}:${headerLength * 8 + step.boundaryBitOffset}`);
  }
  inflater.end();
  return boundaries;
}

/**
 * Tells whether a checkpoint is a block boundary, or up to 7 bits after one
 * where the same stored block header reads from zero bits. Both skip to the
 * same byte for the block's length.
 */
function startsLikeBoundary(point: GzipCheckpointIndex["checkpoints"][number], boundaries: Set<string>): boolean {
  const { uncompressedOffset, compressedBitOffset } = point;
  for (let bitOffset = compressedBitOffset; bitOffset >= compressedBitOffset - 7; bitOffset--) {
    if (boundaries.has(`${uncompressedOffset}:${bitOffset}`)) return true;
  }
  return false;
}

function boundaryKey(point: GzipCheckpointIndex["checkpoints"][number]): string {
  return `${point.uncompressedOffset}:${point.compressedBitOffset}`;
}

/** Blobs of every block type that gzip, zlib and pigz write. */
function sampleBlobs(): { name: string; data: Buffer; blob: Buffer }[] {
  const text = layerLikeData(2_000_000, 41);
  // Random bytes interleaved with text: zlib stores the random runs, in blocks of up to 65535 bytes.
  const mixed = Buffer.concat([text.subarray(0, 300_000), randomBytes(400_000), text.subarray(300_000, 700_000), randomBytes(200_000)]);
  const random = randomBytes(900_000);
  const samples: { name: string; data: Buffer; blob: Buffer }[] = [
    { name: "dynamic blocks", data: text, blob: gzipSync(text) },
    { name: "stored blocks", data: text, blob: gzipSync(text, { level: 0 }) },
    { name: "fixed Huffman blocks", data: text, blob: gzipSync(text, { strategy: constants.Z_FIXED }) },
    { name: "stored runs between dynamic blocks", data: mixed, blob: gzipSync(mixed, { level: 9 }) },
    { name: "random bytes", data: random, blob: gzipSync(random) },
  ];
  expect(hasTool("pigz"), "pigz is not installed: apt-get install pigz").toBe(true);
  // pigz -i ends every 64 KiB block with an empty stored block, as a sync flush does.
  samples.push({ name: "pigz independent blocks", data: text, blob: runTool("pigz", ["-c", "-i", "-b", "64"], text) });
  return samples;
}

describe("native block inflater", () => {
  it("runs on this Node.js version", () => {
    expect(isNativeInflateUsable()).toBe(true);
  });

  it("reports invalid data with zlib's message", () => {
    const inflater = new NativeRawInflate();
    const output = Buffer.alloc(1024);
    // BTYPE 3 is reserved, so the first block header is invalid.
    expect(() => inflater.write(constants.Z_NO_FLUSH, Buffer.from([0x07, 0, 0, 0]), output)).toThrow(/invalid block type/);
    inflater.close();
  });

  it("inflates again after a reset that follows an error", () => {
    const window = layerLikeData(32 * 1024, 44);
    const data = Buffer.concat([window.subarray(1000, 9000), layerLikeData(20_000, 45)]);
    // Compressed with the window as history, so the output is right only if the reset kept the dictionary.
    const compressed = deflateRawSync(data, { dictionary: window });
    const inflater = new NativeRawInflate(window);
    const output = Buffer.alloc(data.length + 1);
    expect(() => inflater.write(constants.Z_NO_FLUSH, Buffer.from([0x07, 0, 0, 0]), output)).toThrow(/invalid block type/);
    inflater.reset();
    const result = inflater.write(constants.Z_NO_FLUSH, compressed, output);
    inflater.close();
    expect(output.length - result.availableOutput).toBe(data.length);
    expect(output.subarray(0, data.length).equals(data)).toBe(true);
  });

  describe.each(sampleBlobs())("$name", ({ data, blob }) => {
    it.each([0, 1, 4096, 70_000])("places checkpoints on block boundaries, chunks of %i", async (chunkSize) => {
      const boundaries = allBoundaries(blob);
      const { index, output } = await indexGzip(blob, SPACING, chunkSize, "native");
      expect(output.equals(data)).toBe(true);
      for (const point of index.checkpoints) {
        expect(startsLikeBoundary(point, boundaries), `checkpoint ${boundaryKey(point)} decodes as a block boundary`).toBe(true);
      }
      const gaps = index.checkpoints.slice(1).map((point, i) => point.uncompressedOffset - index.checkpoints[i]!.uncompressedOffset);
      for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(SPACING);
    });

    it("records about as many checkpoints as pako", async () => {
      // The probe bytes after a checkpoint hide the boundaries among them, so the spacing is well above their length.
      const spacing = 192 * 1024;
      const pako = await indexGzip(blob, spacing, 0, "pako");
      const native = await indexGzip(blob, spacing, 0, "native");
      expect(pako.index.checkpoints.length).toBeGreaterThan(3);
      expect(native.index.checkpoints.length).toBeGreaterThanOrEqual(Math.floor(pako.index.checkpoints.length * 0.8));
    });

    it("reads ranges across its checkpoints", async () => {
      const { index } = await indexGzip(blob, SPACING, 4096, "native");
      for (const point of index.checkpoints) {
        const offset = Math.max(0, point.uncompressedOffset - 100);
        await expectRangeMatches(index, blob, data, offset, Math.min(70_000, data.length - offset));
      }
      await expectRangeMatches(index, blob, data, 0, data.length);
    });
  });
});

describe("block start search", () => {
  /**
   * Builds one raw deflate stream of two parts with a sync flush between them, so
   * the second part starts at a byte boundary and refers back to the first.
   */
  async function twoParts() {
    const first = layerLikeData(50_000, 42);
    const second = Buffer.concat([first.subarray(30_000), layerLikeData(100_000, 43)]);
    const deflate = createDeflateRaw();
    const chunks: Buffer[] = [];
    deflate.on("data", (chunk: Buffer) => chunks.push(chunk));
    deflate.write(first);
    await new Promise<void>((resolve) => deflate.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    const consumed = Buffer.concat(chunks).length;
    deflate.end(second);
    await new Promise((resolve) => deflate.on("end", resolve));
    const input = Buffer.concat(chunks);
    return { input, consumed, window: first.subarray(first.length - 32 * 1024), second };
  }

  it("finds a block that starts at a byte boundary", async () => {
    const { input, consumed, window, second } = await twoParts();
    const output = second.subarray(0, 66 * 1024);
    expect(findBlockStart({ input, consumed, window, output, streamEnded: false })).toBe(consumed * 8);
  });

  it("finds nothing for output that no start gives", async () => {
    const { input, consumed, window, second } = await twoParts();
    const output = Buffer.from(second.subarray(0, 66 * 1024));
    output[1000] = output[1000]! ^ 1;
    expect(findBlockStart({ input, consumed, window, output, streamEnded: false })).toBeUndefined();
  });

  it("finds nothing with the wrong window", async () => {
    const { input, consumed, second } = await twoParts();
    const output = second.subarray(0, 66 * 1024);
    const window = Buffer.alloc(32 * 1024, 0x61);
    expect(findBlockStart({ input, consumed, window, output, streamEnded: false })).toBeUndefined();
  });

  it("requires a stream that ends to end at the same byte", async () => {
    const { input, consumed, window, second } = await twoParts();
    const withTrailer = Buffer.concat([input, Buffer.alloc(8, 0xff)]);
    const whole = { input: withTrailer, consumed, window, streamEnded: true };
    expect(findBlockStart({ ...whole, output: second })).toBe(consumed * 8);
    expect(findBlockStart({ ...whole, output: second.subarray(0, second.length - 1) })).toBeUndefined();
  });
});

describe("history window", () => {
  it("keeps the last bytes across wraps", () => {
    const window = new HistoryWindow(10);
    window.add(Buffer.from("abc"));
    expect(window.snapshot().toString()).toBe("abc");
    window.add(Buffer.from("defghij"));
    expect(window.snapshot().toString()).toBe("abcdefghij");
    window.add(Buffer.from("klm"));
    expect(window.snapshot().toString()).toBe("defghijklm");
    window.add(Buffer.from("0123456789ABCDEF"));
    expect(window.snapshot().toString()).toBe("6789ABCDEF");
  });
});
