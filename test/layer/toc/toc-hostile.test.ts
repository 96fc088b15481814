import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";

import { MemoryLayerTree } from "../../../src/image/layer-tree.js";
import { RegdavError } from "../../../src/errors.js";
import { defaultLayerLimits, type LayerLimits } from "../../../src/layer/layer-limits.js";
import { readTocContent } from "../../../src/layer/toc/chunk-reader.js";
import { TocUnusableError } from "../../../src/layer/toc/toc-error.js";
import type { TocEntry } from "../../../src/layer/toc/toc-entries.js";
import { buildTocListing, MAX_CHUNK_BUFFER, type TocListing } from "../../../src/layer/toc/toc-index.js";
import { makeEstargzLayerOf } from "../../harness/estargz.js";
import { makeZstdChunkedLayer, type TocLayer, type ZstdChunkedOptions } from "../../harness/zstd-chunked.js";
import { bufferFetcher, contentOf, listTestLayer, noise, readStream, sampleEntries } from "./toc-fixtures.js";

type EditToc = NonNullable<ZstdChunkedOptions["editToc"]>;
type TocEntryFields = Record<string, unknown>;

function listingOf(layer: TocLayer, limits: LayerLimits = defaultLayerLimits): Promise<TocListing> {
  return listTestLayer(layer, { limits });
}

const collect = (stream: NodeJS.ReadableStream) => readStream(stream);

function sha256(bytes: Buffer): string {
  return "sha256:" + createHash("sha256").update(bytes).digest("hex");
}

function entryNamed(toc: { entries: TocEntryFields[] }, name: string, type = "reg"): TocEntryFields {
  const entry = toc.entries.find((candidate) => String(candidate.name).endsWith(name) && candidate.type === type);
  if (!entry) throw new Error(`no ${type} entry ${name} in the test TOC`);
  return entry;
}

function chunksOf(toc: { entries: TocEntryFields[] }, name: string): TocEntryFields[] {
  return toc.entries.filter((entry) => String(entry.name).endsWith(name) && (entry.type === "reg" || entry.type === "chunk"));
}

/** Builds a zstd frame that stores `content` in raw blocks, with the given Window_Descriptor. */
function rawFrame(content: Buffer, windowDescriptor: number): Buffer {
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, windowDescriptor])];
  for (let start = 0; start < content.length; start += 128 * 1024) {
    const piece = content.subarray(start, start + 128 * 1024);
    const last = start + piece.length >= content.length ? 1 : 0;
    const header = Buffer.alloc(3);
    header.writeUIntLE((piece.length << 3) | last, 0, 3);
    parts.push(header, piece);
  }
  return Buffer.concat(parts);
}

const builders = {
  "zstd:chunked": (editToc?: EditToc) => makeZstdChunkedLayer(sampleEntries(), { editToc }),
  estargz: (editToc?: EditToc) => makeEstargzLayerOf(sampleEntries(), { editToc }),
};

/** TOC edits that must make the TOC unusable, with the text the error must contain. */
const rejectedEdits: [string, EditToc, RegExp][] = [
  ["negative size", (toc) => (entryNamed(toc, "etc/hello.txt").size = -6), /"size" is -6/],
  ["fractional size", (toc) => (entryNamed(toc, "etc/hello.txt").size = 5.5), /"size" is 5.5/],
  ["size above 2^53", (toc) => (entryNamed(toc, "etc/hello.txt").size = 2 ** 53 + 2), /"size" is 9007199254740994/],
  ["string size", (toc) => (entryNamed(toc, "etc/hello.txt").size = "6"), /"size" is "6"/],
  ["string offset", (toc) => (entryNamed(toc, "etc/hello.txt").offset = "10"), /"offset" is "10"/],
  ["size above its chunks", (toc) => (entryNamed(toc, "data/big.bin").size = 300_001), /cover 300000 bytes, but the file has 300001/],
  ["zero-byte chunk", (toc) => (chunksOf(toc, "data/big.bin")[1]!.chunkSize = 0), /do not cover it/],
  [
    "chunks out of order",
    (toc) => {
      const [first, second] = chunksOf(toc, "data/big.bin").slice(1, 3);
      [first!.chunkOffset, second!.chunkOffset] = [second!.chunkOffset, first!.chunkOffset];
    },
    /do not cover it/,
  ],
  [
    "chunk beyond the data",
    (toc) => {
      const chunk = chunksOf(toc, "data/big.bin")[1]!;
      chunk.offset = 10 ** 9;
    },
    /outside the data before the TOC/,
  ],
  ["NUL in a name", (toc) => (entryNamed(toc, "etc/hello.txt").name = "etc/hel\u0000lo.txt"), /NUL/],
  ["NUL in a link target", (toc) => (entryNamed(toc, "etc/link", "symlink").linkName = "hello\u0000.txt"), /"linkName" "hello\\u0000.txt" contains a NUL byte/],
  ["lone surrogate in a name", (toc) => (entryNamed(toc, "etc/hello.txt").name = "etc/hel\ud800lo.txt"), /"name" "etc\/hel\\ud800lo.txt" contains a lone UTF-16 surrogate/],
  ["lone surrogate in a link target", (toc) => (entryNamed(toc, "etc/link", "symlink").linkName = "hello\udc00.txt"), /contains a lone UTF-16 surrogate/],
  ["empty name", (toc) => (entryNamed(toc, "data/", "dir").name = ""), /has no name/],
  ["name over the path limit", (toc) => (entryNamed(toc, "data/", "dir").name = "d/".repeat(3000)), /longer than 4096 bytes/],
  ["unknown chunk type", (toc) => (chunksOf(toc, "data/big.bin")[1]!.chunkType = "sparse"), /unknown chunkType "sparse"/],
  ["version 2", (toc) => (toc.version = 2), /version 2/],
  ["unknown entry type", (toc) => (toc.entries[0]!.type = "whiteout"), /unknown type "whiteout"/],
];

for (const [kind, build] of Object.entries(builders)) {
  describe(`${kind} hostile TOC entries`, () => {
    for (const [label, edit, message] of rejectedEdits) {
      it(`rejects ${label}`, async () => {
        const layer = await build(edit);
        const listing = listingOf(layer);
        await expect(listing).rejects.toThrow(TocUnusableError);
        await expect(listingOf(layer)).rejects.toThrow(message);
      });
    }

    it("clamps dot-dot and absolute names at the root", async () => {
      const layer = await build((toc) => {
        entryNamed(toc, "etc/hello.txt").name = "../../etc/passwd";
        entryNamed(toc, "data/small.bin").name = "/abs/path";
        entryNamed(toc, "data/text.txt").name = "a/../../b";
        for (const chunk of chunksOf(toc, "data/text.txt")) chunk.name = "a/../../b";
        entryNamed(toc, "etc/empty").name = "./x";
      });
      const { index } = await listingOf(layer);
      const paths = index.entries.map((entry) => entry.path);
      expect(paths).toContain("etc/passwd");
      expect(paths).toContain("abs/path");
      expect(paths).toContain("b");
      expect(paths).toContain("x");
      expect(paths.every((path) => !path.split("/").includes(".."))).toBe(true);
      expect(paths.every((path) => !path.startsWith("/"))).toBe(true);
    });

    it("later duplicate entry wins", async () => {
      const layer = await build((toc) => {
        const small = entryNamed(toc, "data/small.bin");
        entryNamed(toc, "etc/hello.txt").name = small.name;
      });
      const listing = await listingOf(layer);
      const matches = listing.index.entries.filter((entry) => entry.path === "data/small.bin");
      expect(matches, "both entries stay in TOC order").toHaveLength(2);
      const treeNode = MemoryLayerTree.fromIndex(listing.index).folder("data")?.children?.get("small.bin");
      expect(treeNode).toMatchObject({ kind: "file", size: 5_000, dataOffset: matches[1]!.dataOffset });
      const bytes = await collect(readTocContent(listing.table, bufferFetcher(layer.bytes), matches[1]!.dataOffset!, 5_000));
      expect(bytes.equals(contentOf(sampleEntries(), "data/small.bin"))).toBe(true);
    });

    it("rejects content above the layer size limit", async () => {
      const layer = await build();
      const limits = { ...defaultLayerLimits, maxUncompressedSize: 100_000 };
      await expect(listingOf(layer, limits)).rejects.toThrow(TocUnusableError);
      await expect(listingOf(layer, limits)).rejects.toThrow(/more than the limit of 100000/);
    });

    it("overlapping chunks still read right", async () => {
      const layer = await build((toc) => {
        // Both files name the compressed bytes of data/small.bin, with its digest.
        const small = entryNamed(toc, "data/small.bin");
        const hello = entryNamed(toc, "etc/hello.txt");
        Object.assign(hello, { offset: small.offset, endOffset: small.endOffset, size: small.size, digest: small.digest });
        if (small.chunkDigest !== undefined) hello.chunkDigest = small.chunkDigest;
        if (small.chunkSize !== undefined) hello.chunkSize = small.chunkSize;
      });
      const listing = await listingOf(layer);
      const hello = listing.index.entries.find((entry) => entry.path === "etc/hello.txt")!;
      const bytes = await collect(readTocContent(listing.table, bufferFetcher(layer.bytes), hello.dataOffset!, hello.size));
      expect(bytes.equals(contentOf(sampleEntries(), "data/small.bin"))).toBe(true);
    });
  });
}

describe("zstd:chunked hostile holes", () => {
  it("zeros chunk with another digest fails", async () => {
    const layer = await makeZstdChunkedLayer(sampleEntries(), {
      editToc: (toc) => {
        chunksOf(toc, "data/big.bin")[1]!.chunkType = "zeros";
      },
    });
    const listing = await listingOf(layer);
    const big = listing.index.entries.find((entry) => entry.path === "data/big.bin")!;
    const read = () => collect(readTocContent(listing.table, bufferFetcher(layer.bytes), big.dataOffset!, big.size));
    await expect(read()).rejects.toThrow(RegdavError);
    await expect(read()).rejects.toThrow(/data\/big.bin, chunk at offset 65536 \(65536 bytes\) is marked as zeros, but the TOC states digest sha256:/);
    const head = await collect(readTocContent(listing.table, bufferFetcher(layer.bytes), big.dataOffset!, 65_536));
    expect(head.equals(contentOf(sampleEntries(), "data/big.bin").subarray(0, 65_536))).toBe(true);
  });

  it("zeros chunk with zeros digest reads", async () => {
    const entries = sampleEntries();
    const layer = await makeZstdChunkedLayer(entries);
    const listing = await listingOf(layer);
    expect(listing.table.chunks.some((chunk) => chunk.zeros && chunk.digest !== undefined)).toBe(true);
    const holes = listing.index.entries.find((entry) => entry.path === "data/holes.bin")!;
    const bytes = await collect(readTocContent(listing.table, bufferFetcher(layer.bytes), holes.dataOffset!, holes.size));
    expect(sha256(bytes)).toBe(sha256(contentOf(entries, "data/holes.bin")));
  });
});

describe("chunk memory bounds", () => {
  const digest = "sha256:" + "ab".repeat(32);
  const options = {
    toc: "zstd:chunked" as const,
    digest: "sha256:" + "cd".repeat(32),
    compression: "zstd" as const,
    compressedSize: 10 ** 10,
    dataEnd: 10 ** 10 - 100,
    limits: defaultLayerLimits,
  };
  const file = (fields: Partial<TocEntry>): TocEntry => ({
    type: "reg",
    name: "big",
    linkName: "",
    mode: 0o644,
    size: 1000,
    modified: 0,
    chunkOffset: 0,
    innerOffset: 0,
    digest,
    offset: 1000,
    ...fields,
  });

  it("rejects a compressed range over the bound", () => {
    const entries = [file({ endOffset: 1000 + MAX_CHUNK_BUFFER + 1 })];
    expect(() => buildTocListing(entries, options)).toThrow(TocUnusableError);
    expect(() => buildTocListing(entries, options)).toThrow(`spans ${MAX_CHUNK_BUFFER + 1} compressed bytes`);
  });

  it("rejects a range that runs to a far next chunk", () => {
    // Without endOffset, a chunk's range ends where the next one starts.
    const entries = [file({}), file({ name: "next", offset: 1000 + MAX_CHUNK_BUFFER + 5 })];
    expect(() => buildTocListing(entries, options)).toThrow(/big at 0 spans \d+ compressed bytes/);
  });

  it("rejects an inner offset over the bound", () => {
    const entries = [file({ endOffset: 2000, innerOffset: MAX_CHUNK_BUFFER })];
    expect(() => buildTocListing(entries, options)).toThrow(TocUnusableError);
    expect(() => buildTocListing(entries, options)).toThrow(`starts ${MAX_CHUNK_BUFFER} bytes into its compressed data`);
  });

  it("accepts a range at the bound", () => {
    const entries = [file({ endOffset: 1000 + MAX_CHUNK_BUFFER, innerOffset: MAX_CHUNK_BUFFER - 1000 })];
    expect(buildTocListing(entries, options).table.chunks).toHaveLength(1);
  });

  it("rejects holes over the layer size limit", () => {
    const holes: TocEntry[] = [file({ size: 3 * 64 * 1024 * 1024, chunkSize: 64 * 1024 * 1024, chunkType: "zeros" })];
    for (const chunkOffset of [1, 2].map((n) => n * 64 * 1024 * 1024)) {
      holes.push(file({ type: "chunk", size: 0, chunkOffset, chunkSize: 64 * 1024 * 1024, chunkType: "zeros" }));
    }
    const limits = { ...defaultLayerLimits, maxUncompressedSize: 128 * 1024 * 1024 };
    expect(() => buildTocListing(holes, { ...options, limits })).toThrow(/hold at least 201326592 bytes, more than the limit of 134217728/);
    expect(buildTocListing(holes, options).index.contentSize).toBe(3 * 64 * 1024 * 1024);
  });
});

describe("hostile TOC structure", () => {
  it("rejects JSON nested 100000 deep", async () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    const json = Buffer.from(`{"version":1,"entries":[{"type":"dir","name":"etc","xattrs":${deep}}, ${deep}]}`);
    const { parseTocDocument } = await import("../../../src/layer/toc/toc-entries.js");
    expect(() => parseTocDocument(json, "the test TOC")).toThrow(TocUnusableError);
    expect(() => parseTocDocument(json, "the test TOC")).toThrow(/entry 1 has unknown type undefined/);
  });

  it("rejects a zstd TOC longer than its annotation", async () => {
    const layer = await makeZstdChunkedLayer(sampleEntries());
    const position = layer.annotations["io.github.containers.zstd-chunked.manifest-position"]!;
    const [offset, length, , type] = position.split(":");
    const lying = { ...layer, annotations: { ...layer.annotations, "io.github.containers.zstd-chunked.manifest-position": `${offset}:${length}:100:${type}` } };
    await expect(listingOf(lying)).rejects.toThrow(/decompressed to 101 bytes, but the annotation states 100/);
  });

  for (const [label, position, message] of [
    ["extra field", "10:20:30:1:5", /expected "offset:length:uncompressedLength:type"/],
    ["non-number", "10:2x:30:1", /expected "offset:length:uncompressedLength:type"/],
    ["negative number", "10:-20:30:1", /expected "offset:length:uncompressedLength:type"/],
    ["zero length", "10:0:30:1", /outside 1 to/],
    ["position past the end", "999999999:20:30:1", /beyond the blob/],
  ] as const) {
    it(`rejects a position with ${label}`, async () => {
      const layer = await makeZstdChunkedLayer(sampleEntries());
      const annotations = { ...layer.annotations, "io.github.containers.zstd-chunked.manifest-position": position };
      const run = async () => listingOf({ ...layer, annotations });
      await expect(run()).rejects.toThrow(TocUnusableError);
      await expect(run()).rejects.toThrow(message);
    });
  }

  for (const [label, windowDescriptor, message] of [
    ["a window of 128 KiB", 7 << 3, undefined],
    ["a window of 1 GiB", 20 << 3, /declares a window of 1073741824 bytes, more than the 134217728 allowed/],
  ] as const) {
    it(`TOC frame with ${label}`, async () => {
      const layer = await makeZstdChunkedLayer(sampleEntries());
      const json = Buffer.from(JSON.stringify(layer.toc));
      const frame = rawFrame(json, windowDescriptor);
      const bytes = Buffer.concat([layer.bytes, frame]);
      const annotations = {
        ...layer.annotations,
        "io.github.containers.zstd-chunked.manifest-position": `${layer.size}:${frame.length}:${json.length}:1`,
        "io.github.containers.zstd-chunked.manifest-checksum": sha256(frame),
      };
      const run = () => listingOf({ ...layer, bytes, size: bytes.length, annotations });
      if (message === undefined) {
        expect((await run()).index.entries.some((entry) => entry.path === "data/big.bin")).toBe(true);
      } else {
        await expect(run()).rejects.toThrow(TocUnusableError);
        await expect(run()).rejects.toThrow(message);
      }
    });
  }

  it("rejects a TOC frame that is not zstd", async () => {
    const layer = await makeZstdChunkedLayer(sampleEntries());
    const text = entryNamed(layer.toc, "data/text.txt");
    const frame = layer.bytes.subarray(text.offset as number, text.endOffset as number);
    const garbage = Buffer.from(frame);
    garbage.writeUInt32LE(0x12345678, 0);
    const bytes = Buffer.concat([layer.bytes, garbage]);
    const annotations = {
      ...layer.annotations,
      "io.github.containers.zstd-chunked.manifest-position": `${layer.size}:${garbage.length}:1000:1`,
      "io.github.containers.zstd-chunked.manifest-checksum": sha256(garbage),
    };
    const run = () => listingOf({ ...layer, bytes, size: bytes.length, annotations });
    await expect(run()).rejects.toThrow(TocUnusableError);
    await expect(run()).rejects.toThrow(/does not decompress/);
  });

  it("rejects an eStargz footer pointing into itself", async () => {
    const { footer } = await import("../../harness/estargz.js");
    const layer = await makeEstargzLayerOf(sampleEntries());
    const body = layer.bytes.subarray(0, layer.size - 51);
    for (const offset of [layer.size - 51, layer.size - 20, layer.size + 1000]) {
      const bytes = Buffer.concat([body, footer(offset)]);
      const run = () => listingOf({ ...layer, bytes, size: bytes.length });
      await expect(run()).rejects.toThrow(TocUnusableError);
      await expect(run()).rejects.toThrow(/not before the footer/);
    }
  });

  it("rejects an eStargz TOC that inflates past the limit", async () => {
    // A gzip member where the TOC should be: a tar header for stargz.index.json
    // that announces more bytes than MAX_TOC_BYTES, then that many zeros.
    const { gzipSync } = await import("node:zlib");
    const { footer } = await import("../../harness/estargz.js");
    const { MAX_TOC_BYTES } = await import("../../../src/layer/toc/zstd-chunked-toc.js");
    const layer = await makeEstargzLayerOf(sampleEntries());
    const body = layer.bytes.subarray(0, layer.size - 51);
    const header = Buffer.alloc(512);
    header.write("stargz.index.json", 0, "utf8");
    header.write((MAX_TOC_BYTES + 1024 * 1024).toString(8).padStart(11, "0") + "\0", 124, "latin1");
    const bomb = gzipSync(Buffer.concat([header, Buffer.alloc(MAX_TOC_BYTES + 1024 * 1024)]), { level: 9 });
    const bytes = Buffer.concat([body, bomb, footer(body.length)]);
    const run = () => listingOf({ ...layer, bytes, size: bytes.length });
    await expect(run()).rejects.toThrow(TocUnusableError);
    await expect(run()).rejects.toThrow(/the eStargz TOC tar member has an invalid size field/);
  });
});

describe("hostile chunk bytes", () => {
  it("short Range response fails the read", async () => {
    const entries = sampleEntries();
    const layer = await makeZstdChunkedLayer(entries);
    const listing = await listingOf(layer);
    const big = listing.index.entries.find((entry) => entry.path === "data/big.bin")!;
    const short = bufferFetcher(layer.bytes.subarray(0, layer.bytes.length));
    const fetcher: typeof short = async (start, end) => short(start, end - 10);
    const read = collect(readTocContent(listing.table, fetcher, big.dataOffset!, big.size));
    await expect(read).rejects.toThrow(RegdavError);
    await expect(collect(readTocContent(listing.table, fetcher, big.dataOffset!, big.size))).rejects.toThrow(/received \d+ of \d+ bytes/);
  });

  it("changed blob fails the read", async () => {
    const entries = sampleEntries();
    const layer = await makeZstdChunkedLayer(entries, { chunkSize: 32 * 1024 });
    const listing = await listingOf(layer);
    const big = listing.index.entries.find((entry) => entry.path === "data/big.bin")!;
    // A blob whose file data frames are those of another build of the same files with other noise.
    const other = sampleEntries().map((entry) => (entry.path === "data/big.bin" ? { ...entry, content: noise(300_000, 77) } : entry));
    const changed = await makeZstdChunkedLayer(other, { chunkSize: 32 * 1024 });
    const read = collect(readTocContent(listing.table, bufferFetcher(changed.bytes), big.dataOffset!, big.size));
    await expect(read).rejects.toThrow(/digest mismatch/);
  });
});

describe("zstd chunk windows", () => {
  for (const [label, windowDescriptor, failure] of [
    ["a window of 128 KiB", 7 << 3, undefined],
    ["a window of 1 GiB", 20 << 3, /decompression failed: the zstd frame at byte 0 declares a window of 1073741824 bytes/],
  ] as const) {
    it(`chunk frame with ${label}`, async () => {
      const content = Buffer.from("hello, chunk\n");
      const frame = rawFrame(content, windowDescriptor);
      const table = {
        toc: "zstd:chunked" as const,
        digest: "sha256:" + "ef".repeat(32),
        chunks: [{ virtualStart: 0, size: content.length, compressedStart: 100, compressedEnd: 100 + frame.length, innerOffset: 0, digest: sha256(content), path: "f", chunkOffset: 0 }],
      };
      const blob = Buffer.concat([Buffer.alloc(100), frame]);
      const read = () => collect(readTocContent(table, bufferFetcher(blob), 0, content.length));
      if (failure === undefined) {
        expect((await read()).equals(content)).toBe(true);
      } else {
        await expect(read()).rejects.toThrow(RegdavError);
        await expect(read()).rejects.toThrow(failure);
      }
    });
  }
});
