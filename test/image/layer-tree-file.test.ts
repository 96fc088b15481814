import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { layerTreeFile, StoredLayerTree } from "../../src/image/layer-tree-file.js";
import { layerTreeFolders } from "../../src/image/layer-tree.js";
import { layerViewOf } from "../../src/image/layer-view.js";
import { rootfsViewOf } from "../../src/image/rootfs-view.js";
import { contentAt, dir, file, hardlink, layer, namesIn, symlink } from "./index-fixtures.js";

const folder = mkdtempSync(join(tmpdir(), "regdav-layer-tree-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

let written = 0;

/** Writes the tree of a listing to a new file and opens it. */
function stored(index: ReturnType<typeof layer>): { tree: StoredLayerTree; path: string } {
  const path = join(folder, `tree-${written++}.bin`);
  writeFileSync(path, Buffer.concat([...layerTreeFile(layerTreeFolders(index))]));
  return { tree: StoredLayerTree.open(path), path };
}

// Names whose UTF-16 order differs from their UTF-8 byte order, and names that URLs treat specially.
const names = ["z", "é", "日本", "\u{1F600}", "\uFF5E", "a b", "#hash", "what?", "100%"];

const base = layer([
  dir("etc"),
  file("etc/os-release", 100, 7),
  symlink("etc/link", "os-release"),
  ...names.map((name, i) => file(`names/${name}/file`, 1000 + i)),
  dir("data"),
  file("data/a", 200),
  hardlink("data/same", "data/a", { dataOffset: 200, size: 10 }),
  hardlink("data/lower", "usr/lib/libc.so"),
]);

const upper = layer([dir("data"), file("data/b", 300)], { whiteouts: ["data/a", "etc/gone/deep"], opaque: ["names/z"] });

describe("stored layer tree", () => {
  it("returns every folder as the listing built it", () => {
    for (const index of [base, upper]) {
      const folders = layerTreeFolders(index);
      const { tree } = stored(index);
      for (const [path, expected] of folders) {
        expect(tree.folder(path), path).toEqual({ ...expected, children: expected.children && new Map(expected.children) });
      }
    }
  });

  it("finds folders whose names sort differently in UTF-8", () => {
    const { tree } = stored(base);
    for (const name of names) {
      expect(tree.folder(`names/${name}`)?.children?.has("file"), name).toBe(true);
    }
  });

  it("finds folders around a sibling that sorts before the slash", () => {
    // In plain byte order `a-b` and `a.b` would sit between `a` and `a/c`.
    const index = layer([file("a/c/f", 0), file("a-b/f", 10), file("a.b/f", 20), file("a/f", 30), file("a0/f", 40)]);
    const { tree } = stored(index);
    expect([...(tree.folder("")?.children?.keys() ?? [])].sort()).toEqual(["a", "a-b", "a.b", "a0"]);
    for (const path of ["a", "a/c", "a-b", "a.b", "a0"]) {
      expect(tree.folder(path)?.children?.has("f"), path).toBe(true);
    }
    expect(tree.folder("a/b")).toBeUndefined();
  });

  it("returns undefined for a path it lacks", () => {
    const { tree } = stored(base);
    expect(tree.folder("missing")).toBeUndefined();
    expect(tree.folder("etc/os-release")).toBeUndefined();
    expect(tree.folder("names/zz")).toBeUndefined();
  });

  it("keeps whiteout-only folders", () => {
    const { tree } = stored(upper);
    expect(tree.folder("etc/gone")).toEqual({ children: undefined, whiteouts: ["deep"], replacesLower: false, hidesLowerChildren: false });
    expect(tree.folder("names/z")?.hidesLowerChildren).toBe(true);
  });

  it("gives views equal to views of the listing", () => {
    const view = rootfsViewOf([stored(base).tree, stored(upper).tree]);
    // data/lower links to a file that no layer has, so it is left out.
    expect(namesIn(view, "data")).toEqual(["b", "same"]);
    expect(contentAt(view, "data/same")).toBe("0:200:10");
    expect(contentAt(view, "data/b")).toBe("1:300:10");
    expect(contentAt(view, "etc/link")).toBe("0:100:7");
    expect(namesIn(view, "names/z")).toEqual([]);
    expect(contentAt(layerViewOf(stored(upper).tree, 4), "data/b")).toBe("4:300:10");
  });

  it("rejects a file that is not a layer tree", () => {
    const path = join(folder, "not-a-tree.bin");
    writeFileSync(path, "{}".repeat(20));
    expect(() => StoredLayerTree.open(path)).toThrow(`${path} is not a stored layer tree`);
  });

  it("rejects a truncated tree", () => {
    const { path } = stored(base);
    const bytes = readFileSync(path);
    const cut = join(folder, "cut.bin");
    writeFileSync(cut, bytes.subarray(0, bytes.length - 3));
    expect(() => StoredLayerTree.open(cut)).toThrow(`${cut} is not a whole stored layer tree`);
  });

  it("verifies the digest of a whole tree", async () => {
    const { path } = stored(base);
    await expect(StoredLayerTree.verify(path)).resolves.toBeUndefined();
  });

  it("rejects a tree with a changed byte", async () => {
    const { path } = stored(base);
    const bytes = readFileSync(path);
    // A byte inside the first folder record, where the frame checks cannot see it.
    bytes[20] = bytes[20]! ^ 0x01;
    const changed = join(folder, "changed.bin");
    writeFileSync(changed, bytes);
    expect(() => StoredLayerTree.open(changed)).not.toThrow();
    await expect(StoredLayerTree.verify(changed)).rejects.toThrow(`${changed} is damaged: its bytes do not match the SHA-256 in its trailer`);
  });

  it("rejects a missing file", () => {
    expect(() => StoredLayerTree.open(join(folder, "missing.bin"))).toThrow(expect.objectContaining({ code: "ENOENT" }));
  });
});
