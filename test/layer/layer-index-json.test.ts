import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { writePiecesAtomic } from "../../src/cache/atomic-file.js";
import { layerIndexJson } from "../../src/layer/layer-index-json.js";
import type { LayerEntry, TarLayerIndex, TocLayerIndex } from "../../src/layer/layer-index.js";

function entriesOf(count: number): LayerEntry[] {
  return Array.from({ length: count }, (_, i) => {
    if (i % 3 === 1) return { path: `usr/bin/link-${i}`, type: "symlink", size: 0, mode: 0o120777, modified: i, linkTarget: "../lib/x" };
    return { path: `usr/lib/"quoted"\\file-${i}`, type: "file", size: i, mode: 0o100644, modified: 1_700_000_000_000 + i, dataOffset: 512 * i };
  });
}

function tarIndex(count: number): TarLayerIndex {
  return {
    version: 1,
    digest: "sha256:" + "a".repeat(64),
    diffId: "sha256:" + "b".repeat(64),
    compression: "gzip",
    compressedSize: 123,
    uncompressedSize: 4567,
    entries: entriesOf(count),
    whiteouts: ["etc/gone"],
    opaqueDirectories: ["", "var/cache"],
  };
}

describe("layer index JSON", () => {
  for (const count of [0, 1, 999, 1000, 1001, 2500]) {
    it(`matches JSON.stringify for ${count} entries`, () => {
      const index = tarIndex(count);
      const pieces = [...layerIndexJson(index)];
      expect(JSON.parse(pieces.join(""))).toEqual(JSON.parse(JSON.stringify(index)));
      expect(pieces.length).toBe(Math.ceil(count / 1000) + 2);
    });
  }

  it("keeps the fields of a TOC listing", () => {
    const index: TocLayerIndex = {
      version: 1,
      digest: "sha256:" + "c".repeat(64),
      compression: "zstd",
      compressedSize: 9,
      offsets: "toc",
      toc: "zstd:chunked",
      contentSize: 77,
      entries: entriesOf(3),
      whiteouts: [],
      opaqueDirectories: [],
    };
    expect(JSON.parse([...layerIndexJson(index)].join(""))).toEqual(index);
  });
});

describe("writePiecesAtomic", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "regdav-pieces-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes every piece in order", async () => {
    const path = join(dir, "index.json");
    // Pieces well over the write stream's 16 KiB high-water mark, so the writer waits for drains.
    const pieces = Array.from({ length: 40 }, (_, i) => String(i % 10).repeat(50_000));
    await writePiecesAtomic(path, pieces);
    expect(await readFile(path, "utf8")).toBe(pieces.join(""));
    expect(await readdir(dir)).toEqual(["index.json"]);
  });

  it("leaves no file when a piece fails", async () => {
    const path = join(dir, "failed.json");
    function* failing(): Generator<string> {
      yield "{";
      throw new Error("serializing failed");
    }
    await expect(writePiecesAtomic(path, failing())).rejects.toThrow("serializing failed");
    expect((await readdir(dir)).filter((name) => name.startsWith("failed.json"))).toEqual([]);
  });
});
