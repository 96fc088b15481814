import { gunzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";

import { defaultLayerLimits } from "../../../src/layer/layer-limits.js";
import { listFromZtoc } from "../../../src/layer/soci/list-from-ztoc.js";
import type { ZtocAccess } from "../../../src/layer/soci/ztoc-access.js";
import type { ZtocListing } from "../../../src/layer/soci/ztoc-listing.js";
import { readZtocRange } from "../../../src/layer/soci/ztoc-range-reader.js";
import { gzip, makeLayerTar, type TarEntry } from "../../harness/image-builder.js";
import { buildZtoc } from "../../harness/ztoc-writer.js";
import { bufferFetcher, contentOf, noise, readStream, sampleEntries } from "../toc/toc-fixtures.js";

const SPAN_SIZE = 64 * 1024;
const LAYER_DIGEST = `sha256:${"ab".repeat(32)}`;

function entries(): TarEntry[] {
  const list = sampleEntries();
  list.push({ type: "file", path: "mixed.bin", content: Buffer.concat([noise(150_000, 9), Buffer.from("abc".repeat(90_000))]) });
  return list;
}

describe("reads through a zTOC", () => {
  const files = entries();
  let blob: Buffer;
  let tar: Buffer;
  let listing: ZtocListing;
  let access: ZtocAccess;

  beforeAll(async () => {
    blob = gzip(await makeLayerTar(files));
    tar = gunzipSync(blob);
    listing = listFromZtoc(buildZtoc(blob, { spanSize: SPAN_SIZE }).bytes, {
      digest: LAYER_DIGEST,
      compressedSize: blob.length,
      limits: defaultLayerLimits,
    });
    access = listing.access;
  });

  const read = (offset: number, length: number, source = blob, requests: [number, number][] = []) =>
    readStream(readZtocRange(access, bufferFetcher(source, requests), offset, length, "layer test"));

  it("layer has many spans, some inside a byte", () => {
    expect(access.spans.length).toBeGreaterThan(8);
    expect(access.spans.some((span) => span.compressedBitOffset % 8 !== 0)).toBe(true);
  });

  it("file offsets point at their content", () => {
    for (const path of ["data/big.bin", "data/text.txt", "mixed.bin", "etc/hello.txt"]) {
      const entry = listing.index.entries.find((candidate) => candidate.path === path)!;
      expect(entry.dataOffset, path).toBeDefined();
      expect(tar.subarray(entry.dataOffset!, entry.dataOffset! + entry.size).equals(contentOf(files, path)), path).toBe(true);
    }
  });

  it("random ranges equal the gunzipped tar", async () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let n = 0; n < 40; n++) {
      const offset = next() % access.uncompressedSize;
      const length = Math.min(1 + (next() % 300_000), access.uncompressedSize - offset);
      const bytes = await read(offset, length);
      expect(bytes.equals(tar.subarray(offset, offset + length)), `${offset}+${length}`).toBe(true);
    }
  });

  it("ranges at span starts, the start and the end", async () => {
    const size = access.uncompressedSize;
    const cases: [number, number][] = [[0, 1], [0, 512], [size - 1, 1], [size - 1000, 1000], [0, size]];
    for (const span of access.spans.slice(1)) cases.push([span.uncompressedOffset - 1, 2], [span.uncompressedOffset, 10]);
    for (const [offset, length] of cases) {
      const bytes = await read(offset, length);
      expect(bytes.equals(tar.subarray(offset, offset + length)), `${offset}+${length}`).toBe(true);
    }
  });

  it("one read fetches only its spans", async () => {
    const span = access.spans[4]!;
    const requests: [number, number][] = [];
    await read(span.uncompressedOffset + 10, 100, blob, requests);
    expect(requests).toHaveLength(1);
    expect(requests[0]![0]).toBe(Math.floor(span.compressedBitOffset / 8));
    expect(requests[0]![1]).toBe(access.spans[5]!.compressedOffset - 1);
  });

  it("changed byte fails the read", async () => {
    const span = access.spans[3]!;
    const changed = Buffer.from(blob);
    const at = Math.floor(span.compressedBitOffset / 8) + 50;
    changed[at] = changed[at]! ^ 0x01;
    await expect(read(span.uncompressedOffset, 100, changed)).rejects.toThrow(/compressed span 3 .* does not match its zTOC digest/);
    // A span that does not contain the byte still reads.
    const other = access.spans[6]!;
    expect((await read(other.uncompressedOffset, 100, changed)).equals(tar.subarray(other.uncompressedOffset, other.uncompressedOffset + 100))).toBe(true);
  });

  it("range past the end is rejected", () => {
    expect(() => readZtocRange(access, bufferFetcher(blob), access.uncompressedSize, 1, "layer test")).toThrow(/invalid read/);
  });
});

describe("zTOC windows", () => {
  it("wrong window fails a read across it", async () => {
    const files = entries();
    const blob = gzip(await makeLayerTar(files));
    const tar = gunzipSync(blob);
    const written = buildZtoc(blob, {
      spanSize: SPAN_SIZE,
      mutate: (plan) => {
        plan.checkpoints[3]!.window = Buffer.alloc(plan.checkpoints[3]!.window.length);
      },
    });
    const { access } = listFromZtoc(written.bytes, { digest: LAYER_DIGEST, compressedSize: blob.length, limits: defaultLayerLimits });
    const third = access.spans[3]!.uncompressedOffset;
    const across = readZtocRange(access, bufferFetcher(blob), third - 100, 200, "layer test");
    await expect(readStream(across)).rejects.toThrow(/the window of zTOC checkpoint 3 is not the data before uncompressed offset/);

    // Reads that do not cross checkpoint 3 are unaffected.
    const before = await readStream(readZtocRange(access, bufferFetcher(blob), third - 5000, 1000, "layer test"));
    expect(before.equals(tar.subarray(third - 5000, third - 4000))).toBe(true);
  });
});
