import { describe, expect, it } from "vitest";

import { MemoryLayerTree, type LayerFolder, type LayerTree } from "../../src/image/layer-tree.js";
import { rootfsViewOf } from "../../src/image/rootfs-view.js";
import { dir, file, layer, namesIn, symlink } from "./index-fixtures.js";

/** A layer tree that counts how often each folder is read. */
class CountingTree implements LayerTree {
  readonly reads = new Map<string, number>();

  constructor(private readonly tree: LayerTree) {}

  folder(path: string): LayerFolder | undefined {
    this.reads.set(path, (this.reads.get(path) ?? 0) + 1);
    return this.tree.folder(path);
  }
}

describe("layered folders", () => {
  it("merges a folder larger than the cache once", () => {
    // 4,200 symlinks with 4,000-byte targets take more than the cache's 16 MiB estimate.
    const target = `${"./".repeat(1998)}plain`;
    const links = Array.from({ length: 4200 }, (_, i) => symlink(`big/link-${i}`, target));
    const tree = new CountingTree(MemoryLayerTree.fromIndex(layer([dir("big"), file("big/plain", 100), ...links])));
    const view = rootfsViewOf([tree]);

    expect(namesIn(view, "big")).toHaveLength(4201);
    for (let i = 0; i < 50; i++) view.lookup(["big", `link-${i}`]);
    view.lookup(["big", "plain"]);
    expect(tree.reads.get("big")).toBe(1);
  });

  it("reads each layer once per folder", () => {
    const lower = new CountingTree(MemoryLayerTree.fromIndex(layer([dir("etc"), file("etc/a", 100)])));
    const upper = new CountingTree(MemoryLayerTree.fromIndex(layer([file("etc/b", 200)])));
    const view = rootfsViewOf([lower, upper]);

    expect(namesIn(view, "etc")).toEqual(["a", "b"]);
    expect(namesIn(view, "etc")).toEqual(["a", "b"]);
    expect(lower.reads.get("etc")).toBe(1);
    expect(upper.reads.get("etc")).toBe(1);
  });
});
