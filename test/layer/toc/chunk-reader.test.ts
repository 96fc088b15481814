import { describe, expect, it } from "vitest";

import { RegdavError } from "../../../src/errors.js";
import { readTocContent } from "../../../src/layer/toc/chunk-reader.js";
import type { TocListing } from "../../../src/layer/toc/toc-index.js";
import { makeEstargzLayerOf } from "../../harness/estargz.js";
import { makeZstdChunkedLayer, type TocLayer } from "../../harness/zstd-chunked.js";
import { bufferFetcher, contentOf, listTestLayer, noise, readStream, sampleEntries } from "./toc-fixtures.js";

const entries = sampleEntries();

const listingOf = (layer: TocLayer) => listTestLayer(layer);
const collect = readStream;

/** Returns a file's bytes: from the test entries, or the TOC document for an eStargz layer's own TOC entry. */
function expectedContent(layer: TocLayer, path: string): Buffer {
  return path === "stargz.index.json" ? Buffer.from(JSON.stringify(layer.toc)) : contentOf(entries, path);
}

/** Returns the content space as the TOC lays it out: every regular file's bytes, end to end. */
function expectedSpace(layer: TocLayer, listing: TocListing): Buffer {
  const files = listing.index.entries.filter((entry) => entry.type === "file");
  const parts = files.sort((a, b) => a.dataOffset! - b.dataOffset!).map((entry) => expectedContent(layer, entry.path));
  return Buffer.concat(parts);
}

const builders = {
  "zstd:chunked": () => makeZstdChunkedLayer(entries, { chunkSize: 32 * 1024 }),
  estargz: () => makeEstargzLayerOf(entries, { chunkSize: 32 * 1024 }),
};

for (const [kind, build] of Object.entries(builders)) {
  describe(`${kind} chunk reader`, () => {
    it("reads whole files", async () => {
      const layer = await build();
      const listing = await listingOf(layer);
      for (const entry of listing.index.entries.filter((candidate) => candidate.type === "file")) {
        const bytes = await collect(readTocContent(listing.table, bufferFetcher(layer.bytes), entry.dataOffset!, entry.size));
        expect(bytes.equals(expectedContent(layer, entry.path)), entry.path).toBe(true);
      }
    });

    it("reads random ranges across chunk boundaries", async () => {
      const layer = await build();
      const listing = await listingOf(layer);
      const space = expectedSpace(layer, listing);
      expect(space.length).toBe(listing.index.contentSize);
      const random = noise(400, 9);
      for (let round = 0; round < 100; round++) {
        const start = random.readUInt32LE(round * 4) % space.length;
        const length = 1 + (random.readUInt16LE(round * 4) * 7) % Math.min(150_000, space.length - start);
        const bytes = await collect(readTocContent(listing.table, bufferFetcher(layer.bytes), start, length));
        expect(bytes.equals(space.subarray(start, start + length)), `${start}+${length}`).toBe(true);
      }
    });

    it("fetches only the chunks of the range", async () => {
      const layer = await build();
      const listing = await listingOf(layer);
      const small = listing.index.entries.find((entry) => entry.path === "data/small.bin")!;
      const requests: [number, number][] = [];
      await collect(readTocContent(listing.table, bufferFetcher(layer.bytes, requests), small.dataOffset!, small.size));
      expect(requests).toHaveLength(1);
      const [start, end] = requests[0]!;
      expect(end - start + 1).toBeLessThan(6_000);
    });

    it("fails on a changed chunk without passing its bytes", async () => {
      const layer = await build();
      const listing = await listingOf(layer);
      const big = listing.index.entries.find((entry) => entry.path === "data/big.bin")!;
      const chunks = listing.table.chunks.filter((chunk) => chunk.path.endsWith("data/big.bin"));
      const bad = chunks[2]!;

      // Recompress other bytes in place of the third chunk: the stream still
      // decompresses, but to bytes that do not match the chunk digest.
      const bytes = Buffer.from(layer.bytes);
      const fetcher = bufferFetcher(bytes);
      const original = bytes.subarray(bad.compressedStart, bad.compressedEnd);
      for (let index = 0; index < original.length; index += 97) original[index] = original[index]! ^ 0x01;

      const received: Buffer[] = [];
      const read = collect(readTocContent(listing.table, fetcher, big.dataOffset!, big.size), received);
      await expect(read).rejects.toThrow(RegdavError);
      await expect(collect(readTocContent(listing.table, fetcher, big.dataOffset!, big.size))).rejects.toThrow(
        new RegExp(`layer ${layer.digest}: file \\S*data/big.bin, chunk at offset ${bad.chunkOffset}`),
      );
      const passed = Buffer.concat(received);
      expect(passed.length).toBeLessThanOrEqual(bad.virtualStart - big.dataOffset!);
      expect(passed.equals(contentOf(entries, "data/big.bin").subarray(0, passed.length))).toBe(true);
    });

    it("fails on a digest mismatch", async () => {
      const layer = await build();
      const listing = await listingOf(layer);
      const big = listing.index.entries.find((entry) => entry.path === "data/big.bin")!;
      const bad = listing.table.chunks.filter((chunk) => chunk.path.endsWith("data/big.bin"))[1]!;
      bad.digest = "sha256:" + "ab".repeat(32);
      const received: Buffer[] = [];
      const read = collect(readTocContent(listing.table, bufferFetcher(layer.bytes), big.dataOffset!, big.size), received);
      await expect(read).rejects.toThrow(/digest mismatch: the TOC states sha256:abab/);
      expect(Buffer.concat(received).length).toBeLessThanOrEqual(bad.virtualStart - big.dataOffset!);
    });

    it("reports INVALID_LAYER for a bad chunk", async () => {
      const layer = await build();
      const listing = await listingOf(layer);
      const small = listing.index.entries.find((entry) => entry.path === "data/small.bin")!;
      const chunk = listing.table.chunks.find((candidate) => candidate.path.endsWith("data/small.bin"))!;
      const bytes = Buffer.from(layer.bytes);
      bytes[chunk.compressedEnd - 10] = bytes[chunk.compressedEnd - 10]! ^ 0xff;
      const error = await collect(readTocContent(listing.table, bufferFetcher(bytes), small.dataOffset!, small.size)).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(RegdavError);
      expect((error as RegdavError).code).toBe("INVALID_LAYER");
      expect((error as RegdavError).message).toContain("data/small.bin");
    });
  });
}

describe("zstd:chunked holes", () => {
  it("reads zeros without fetching them", async () => {
    const layer = await makeZstdChunkedLayer(entries);
    const listing = await listingOf(layer);
    const holes = listing.index.entries.find((entry) => entry.path === "data/holes.bin")!;
    const requests: [number, number][] = [];
    const start = holes.dataOffset! + 140_000;
    const bytes = await collect(readTocContent(listing.table, bufferFetcher(layer.bytes, requests), start, 100_000));
    expect(bytes.equals(Buffer.alloc(100_000))).toBe(true);
    expect(requests).toHaveLength(0);
  });
});
