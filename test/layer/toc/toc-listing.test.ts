import { describe, expect, it } from "vitest";

import { MemoryLayerTree } from "../../../src/image/layer-tree.js";
import { locateToc } from "../../../src/layer/toc/toc-annotations.js";
import { TocUnusableError } from "../../../src/layer/toc/toc-error.js";
import { makeEstargzLayerOf } from "../../harness/estargz.js";
import { makeZstdChunkedLayer, OLD_ZSTD_CHUNKED_PREFIX, type TocLayer } from "../../harness/zstd-chunked.js";
import { listTestLayer, sampleEntries } from "./toc-fixtures.js";

function listingOf(layer: TocLayer, annotations = layer.annotations) {
  return listTestLayer(layer, { annotations });
}

const builders = {
  "zstd:chunked": (options: Parameters<typeof makeZstdChunkedLayer>[1] = {}) => makeZstdChunkedLayer(sampleEntries(), options),
  estargz: (options: Parameters<typeof makeEstargzLayerOf>[1] = {}) => makeEstargzLayerOf(sampleEntries(), options),
};

for (const [kind, build] of Object.entries(builders)) {
  describe(`${kind} TOC listing`, () => {
    it("lists every entry type", async () => {
      const { index } = await listingOf(await build());
      const byPath = new Map(index.entries.map((entry) => [entry.path, entry]));
      expect(index.offsets).toBe("toc");
      expect(index.toc).toBe(kind);
      expect(byPath.get("etc")?.type).toBe("directory");
      expect(byPath.get("etc/hello.txt")).toMatchObject({ type: "file", size: 6, mode: 0o644 });
      expect(byPath.get("etc/hello.txt")?.modified).toBe(Date.parse("2024-01-01T00:00:00Z"));
      expect(byPath.get("etc/empty")).toMatchObject({ type: "file", size: 0 });
      expect(byPath.get("etc/link")).toMatchObject({ type: "symlink", linkTarget: "hello.txt" });
      expect(byPath.get("etc/hard")).toMatchObject({ type: "hardlink", linkTarget: "etc/hello.txt" });
      const hard = MemoryLayerTree.fromIndex(index).folder("etc")?.children?.get("hard");
      expect(hard).toMatchObject({ kind: "file", size: 6, dataOffset: byPath.get("etc/hello.txt")?.dataOffset });
      expect(byPath.get("data/big.bin")).toMatchObject({ type: "file", size: 300_000 });
      expect(byPath.has("run-fifo")).toBe(false);
      expect(byPath.has("dev-null")).toBe(false);
    });

    it("records whiteouts and opaque folders", async () => {
      const { index } = await listingOf(await build());
      expect(index.whiteouts).toEqual(["etc/gone"]);
      expect(index.opaqueDirectories).toEqual(["opq"]);
      expect(index.entries.some((entry) => entry.path.includes(".wh."))).toBe(false);
    });

    it("lays file contents end to end", async () => {
      const { index, table } = await listingOf(await build());
      const files = index.entries.filter((entry) => entry.type === "file");
      const total = files.reduce((sum, entry) => sum + entry.size, 0);
      expect(index.contentSize).toBe(total);
      expect(table.chunks.reduce((sum, chunk) => sum + chunk.size, 0)).toBe(total);
      for (let position = 1; position < table.chunks.length; position++) {
        const previous = table.chunks[position - 1]!;
        expect(table.chunks[position]!.virtualStart).toBe(previous.virtualStart + previous.size);
      }
    });

    it("splits large files into chunks", async () => {
      const { table } = await listingOf(await build({ chunkSize: 64 * 1024 }));
      const big = table.chunks.filter((chunk) => chunk.path.endsWith("data/big.bin"));
      expect(big.map((chunk) => chunk.size)).toEqual([65536, 65536, 65536, 65536, 37856]);
      expect(big.every((chunk) => /^sha256:[a-f0-9]{64}$/.test(chunk.digest ?? ""))).toBe(true);
    });

    it("rejects a TOC whose digest differs from the annotation", async () => {
      const layer = await build();
      const annotations = Object.fromEntries(
        Object.entries(layer.annotations).map(([key, value]) => [key, /digest|checksum/.test(key) ? "sha256:" + "0".repeat(64) : value]),
      );
      await expect(listingOf(layer, annotations)).rejects.toThrow(TocUnusableError);
      await expect(listingOf(layer, annotations)).rejects.toThrow(/but the manifest annotation states sha256:0000/);
    });

    it("rejects a file without any digest", async () => {
      const layer = await build({
        editToc: (toc) => {
          const entry = toc.entries.find((candidate) => candidate.name === "etc/hello.txt")!;
          delete entry.digest;
          delete entry.chunkDigest;
        },
      });
      await expect(listingOf(layer)).rejects.toThrow(/etc\/hello.txt at 0 has no digest/);
    });

    it("rejects an unsupported TOC version", async () => {
      const layer = await build({ editToc: (toc) => (toc.version = 2) });
      await expect(listingOf(layer)).rejects.toThrow(/version 2, only version 1 is supported/);
    });

    it("rejects an unknown entry type", async () => {
      const layer = await build({ editToc: (toc) => (toc.entries[0]!.type = "socket") });
      await expect(listingOf(layer)).rejects.toThrow(/unknown type "socket"/);
    });

    it("rejects chunks that leave a gap", async () => {
      const layer = await build({
        editToc: (toc) => {
          const chunk = toc.entries.find((entry) => entry.type === "chunk")!;
          chunk.chunkOffset = (chunk.chunkOffset as number) + 1;
        },
      });
      await expect(listingOf(layer)).rejects.toThrow(/do not cover it/);
    });
  });
}

describe("zstd:chunked TOC details", () => {
  it("marks chunks of zeros as holes", async () => {
    const { table } = await listingOf(await makeZstdChunkedLayer(sampleEntries()));
    const holes = table.chunks.filter((chunk) => chunk.path.endsWith("holes.bin"));
    expect(holes.map((chunk) => Boolean(chunk.zeros))).toEqual([false, false, true, true, false]);
  });

  it("reads a TOC frame outside a skippable frame", async () => {
    const layer = await makeZstdChunkedLayer(sampleEntries(), { tocInSkippableFrame: false });
    const { index } = await listingOf(layer);
    expect(index.entries.some((entry) => entry.path === "data/big.bin")).toBe(true);
  });

  it("reads the older annotation prefix", async () => {
    const layer = await makeZstdChunkedLayer(sampleEntries(), { annotationPrefix: OLD_ZSTD_CHUNKED_PREFIX });
    expect(Object.keys(layer.annotations)[0]).toMatch(/^io\.containers\.zstd-chunked\./);
    const { index } = await listingOf(layer);
    expect(index.entries.some((entry) => entry.path === "data/big.bin")).toBe(true);
  });

  it("rejects a malformed position annotation", () => {
    const annotations = {
      "io.github.containers.zstd-chunked.manifest-position": "12:34",
      "io.github.containers.zstd-chunked.manifest-checksum": "sha256:" + "a".repeat(64),
    };
    expect(() => locateToc(annotations)).toThrow(/manifest-position is "12:34"/);
  });

  it("rejects bad TOC JSON", async () => {
    const layer = await makeZstdChunkedLayer(sampleEntries());
    const location = locateToc(layer.annotations)!;
    expect(location.kind).toBe("zstd:chunked");
    // Point the position at a frame of file data, with its real digest, so only the JSON is wrong.
    const entry = layer.toc.entries.find((candidate) => candidate.name === "data/text.txt")!;
    const start = entry.offset as number;
    const end = entry.endOffset as number;
    const { createHash } = await import("node:crypto");
    const annotations = {
      "io.github.containers.zstd-chunked.manifest-position": `${start}:${end - start}:250000:1`,
      "io.github.containers.zstd-chunked.manifest-checksum": "sha256:" + createHash("sha256").update(layer.bytes.subarray(start, end)).digest("hex"),
    };
    await expect(listingOf(layer, annotations)).rejects.toThrow(/is not valid JSON/);
  });
});

describe("eStargz TOC details", () => {
  it("reads a layer with the legacy footer", async () => {
    const { index } = await listingOf(await makeEstargzLayerOf(sampleEntries(), { legacyFooter: true }));
    expect(index.entries.some((entry) => entry.path === "data/big.bin")).toBe(true);
  });

  it("rejects a blob without a footer", async () => {
    const layer = await makeEstargzLayerOf(sampleEntries());
    const cut = { ...layer, bytes: layer.bytes.subarray(0, layer.size - 51), size: layer.size - 51 };
    await expect(listingOf(cut)).rejects.toThrow(/no eStargz footer/);
  });
});
