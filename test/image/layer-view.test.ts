import { readFileSync } from "node:fs";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { repoRoot } from "../harness/tools.js";

import type { FilesystemView } from "../../src/image/filesystem-view.js";
import { buildLayerView } from "../../src/image/layer-view.js";
import { buildRootfsView } from "../../src/image/rootfs-view.js";
import type { LayerIndex } from "../../src/layer/layer-index.js";
import { gzip, indexBlob, tarMember, tarOf, zstd } from "../layer/tar-fixtures.js";
import { contentAt, dir, file, layer, namesIn, segments } from "./index-fixtures.js";

const FIXTURES = join(repoRoot, "../shared/fixtures/regclient");

/** Reads a file of a view from the uncompressed tars, as the WebDAV share does. */
function read(view: FilesystemView, tars: Buffer[], path: string): string {
  const content = view.lookup(segments(path)).content;
  if (!content) throw new Error(`${path} has no content`);
  const tar = tars[content.layerIndex]!;
  return tar.subarray(content.dataOffset, content.dataOffset + content.size).toString();
}

describe("buildLayerView", () => {
  it("creates parent folders that have no entry", () => {
    const view = buildLayerView(layer([file("a/b/c/file", 100)]));

    expect(namesIn(view, "")).toEqual(["a"]);
    expect(namesIn(view, "a/b")).toEqual(["c"]);
    expect(view.lookup(["a", "b"])).toEqual({
      name: "b",
      type: "directory",
      size: 0,
      mode: 0o755,
      modified: 1_650_000_000_000,
    });
  });

  it("describes files and folders", () => {
    const view = buildLayerView(layer([dir("etc", 0o750), file("etc/shadow", 100, 12)]), 4);

    expect(view.lookup([])).toMatchObject({ name: "", type: "directory" });
    expect(view.lookup(["etc"])).toMatchObject({ type: "directory", mode: 0o750 });
    expect(view.lookup(["etc", "shadow"])).toEqual({
      name: "shadow",
      type: "file",
      size: 12,
      mode: 0o644,
      modified: 1_650_000_000_000,
      content: { layerIndex: 4, dataOffset: 100, size: 12 },
    });
  });

  it("hides whiteouts and shows opaque folders", () => {
    const markers = { whiteouts: ["gone", "dir/gone"], opaque: ["dir"] };
    const view = buildLayerView(layer([file("kept", 1)], markers));

    expect(namesIn(view, "")).toEqual(["dir", "kept"]);
    expect(namesIn(view, "dir")).toEqual([]);
  });

  it("finds a child among many siblings", () => {
    const entries = Array.from({ length: 50_000 }, (_, i) => file(`big/file-${i}`, i * 512));
    const started = performance.now();
    const view = buildLayerView(layer(entries));

    expect(contentAt(view, "big/file-49999")).toBe(`0:${49_999 * 512}:10`);
    expect(view.list(["big"])).toHaveLength(50_000);
    // About 0.1 s on a laptop; a scan per lookup would take minutes.
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe("views built from real tars", () => {
  it("merges the regclient fixture layers", async () => {
    const tars = [readFileSync(`${FIXTURES}/layer.tar`), readFileSync(`${FIXTURES}/layer-wh.tar`)];
    const indexes = [await indexBlob(gzip(tars[0]!)), await indexBlob(tars[1]!)];
    const view = buildRootfsView(indexes);

    expect(namesIn(view, "")).toEqual(["exdir", "layer1.txt", "layer3.txt"]);
    expect(namesIn(view, "exdir")).toEqual([]);
    expect(read(view, tars, "layer1.txt")).toBe("1\n");
    expect(read(view, tars, "layer3.txt")).toBe("3\n");
    expect(view.lookup(["layer3.txt"]).content?.layerIndex).toBe(1);
  });

  it("applies whiteouts written in every tar form", async () => {
    const lowerTar = tarOf(
      tarMember({ name: "etc/", typeflag: "5" }),
      tarMember({ name: "etc/a" }, "a"),
      tarMember({ name: "etc/b" }, "b"),
      tarMember({ name: "top" }, "t"),
      tarMember({ name: "var/cache/x" }, "x"),
      tarMember({ name: "var/keep" }, "k"),
    );
    const upperTar = tarOf(
      tarMember({ name: "./etc/.wh.a" }),
      tarMember({ name: "../../../.wh.top" }),
      tarMember({ name: "/var/cache/.wh..wh..opq" }),
      tarMember({ name: "var/cache/new" }, "n"),
      tarMember({ name: "etc/.wh..wh..opq/../.wh.b" }),
    );
    const tars = [lowerTar, upperTar];
    const indexes: LayerIndex[] = [await indexBlob(zstd(lowerTar)), await indexBlob(upperTar)];
    const view = buildRootfsView(indexes);

    expect(indexes[1]!.whiteouts).toEqual(["etc/a", "top", "etc/b"]);
    expect(namesIn(view, "")).toEqual(["etc", "var"]);
    expect(namesIn(view, "etc")).toEqual([]);
    expect(namesIn(view, "var")).toEqual(["cache", "keep"]);
    expect(namesIn(view, "var/cache")).toEqual(["new"]);
    expect(read(view, tars, "var/cache/new")).toBe("n");
  });

  it("keeps same-layer entries on either side of an opaque marker", async () => {
    const lowerTar = tarOf(tarMember({ name: "data/old" }, "o"));
    const upperTar = tarOf(
      tarMember({ name: "data/before" }, "b"),
      tarMember({ name: "data/.wh..wh..opq" }),
      tarMember({ name: "data/after" }, "a"),
      tarMember({ name: "data/.wh.before" }),
    );
    const view = buildRootfsView([await indexBlob(lowerTar), await indexBlob(upperTar)]);

    expect(namesIn(view, "data")).toEqual(["after", "before"]);
    expect(read(view, [lowerTar, upperTar], "data/before")).toBe("b");
  });

  it("resolves hardlinks across layers by content", async () => {
    const lowerTar = tarOf(tarMember({ name: "usr/lib/libz.so.1" }, "zlib bytes"));
    const upperTar = tarOf(
      tarMember({ name: "opt/libz.so", typeflag: "1", linkName: "usr/lib/libz.so.1" }),
      tarMember({ name: "opt/own" }, "own"),
      tarMember({ name: "opt/own-link", typeflag: "1", linkName: "opt/own" }),
    );
    const tars = [lowerTar, upperTar];
    const view = buildRootfsView([await indexBlob(lowerTar), await indexBlob(upperTar)]);

    expect(read(view, tars, "opt/libz.so")).toBe("zlib bytes");
    expect(read(view, tars, "opt/own-link")).toBe("own");
    const upperView = buildLayerView(await indexBlob(upperTar), 1);
    expect(namesIn(upperView, "opt")).toEqual(["own", "own-link"]);
  });
});
