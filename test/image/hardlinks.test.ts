import { describe, expect, it } from "vitest";

import { buildLayerView } from "../../src/image/layer-view.js";
import { buildRootfsView } from "../../src/image/rootfs-view.js";
import { contentAt, dir, file, hardlink, layer, namesIn, symlink } from "./index-fixtures.js";

describe("hardlinks in one layer", () => {
  it("shows a link resolved by the indexer with its content", () => {
    const alias = hardlink("bin/alias", "bin/tool", { dataOffset: 100, size: 42 });
    const view = buildLayerView(layer([file("bin/tool", 100, 42), alias]));

    expect(contentAt(view, "bin/alias")).toBe("0:100:42");
    expect(view.lookup(["bin", "alias"])).toMatchObject({ name: "alias", type: "file", size: 42 });
  });

  it("resolves a link to a target later in the layer", () => {
    const view = buildLayerView(layer([hardlink("early", "late"), file("late", 300, 5)]), 3);
    expect(contentAt(view, "early")).toBe("3:300:5");
  });

  it("resolves a chain of links", () => {
    const view = buildLayerView(
      layer([hardlink("one", "two"), hardlink("two", "three"), file("three", 300)]),
    );
    expect(contentAt(view, "one")).toBe("0:300:10");
    expect(contentAt(view, "two")).toBe("0:300:10");
  });

  it("leaves out a link to a missing target", () => {
    const view = buildLayerView(layer([file("kept", 1), hardlink("broken", "nowhere")]));
    expect(namesIn(view, "")).toEqual(["kept"]);
  });

  it("leaves out links in a cycle", () => {
    const view = buildLayerView(
      layer([hardlink("a", "b"), hardlink("b", "a"), hardlink("self", "self"), file("kept", 1)]),
    );
    expect(namesIn(view, "")).toEqual(["kept"]);
  });

  it("leaves out a link to a folder", () => {
    const view = buildLayerView(layer([dir("folder"), hardlink("link", "folder")]));
    expect(namesIn(view, "")).toEqual(["folder"]);
  });

  it("makes a link to a symlink act as that symlink", () => {
    const view = buildLayerView(
      layer([file("target", 100), symlink("soft", "target"), hardlink("hard", "soft")]),
    );
    expect(contentAt(view, "hard")).toBe("0:100:10");
  });

  it("drops cross-layer links in a layer view", () => {
    const view = buildLayerView(layer([hardlink("link", "usr/lib/libc.so")]));
    expect(namesIn(view, "")).toEqual([]);
  });
});

describe("hardlinks across layers", () => {
  const lower = layer([
    dir("usr/lib"),
    file("usr/lib/libc.so", 100, 50),
    symlink("lib", "usr/lib"),
  ]);

  it("resolves a link to a lower layer's file", () => {
    const view = buildRootfsView([lower, layer([hardlink("opt/libc.so", "usr/lib/libc.so")])]);
    expect(contentAt(view, "opt/libc.so")).toBe("0:100:50");
  });

  it("follows symlinks in the link target's parent folders", () => {
    const view = buildRootfsView([lower, layer([hardlink("opt/libc.so", "lib/libc.so")])]);
    expect(contentAt(view, "opt/libc.so")).toBe("0:100:50");
  });

  it("keeps the target's content at link time", () => {
    const view = buildRootfsView([
      lower,
      layer([hardlink("copy", "usr/lib/libc.so")]),
      layer([file("usr/lib/libc.so", 900, 60)]),
    ]);

    expect(contentAt(view, "copy")).toBe("0:100:50");
    expect(contentAt(view, "usr/lib/libc.so")).toBe("2:900:60");
  });

  it("keeps the lower content when the same layer replaces the target later", () => {
    // Extracting the tar in order links the lower file, then replaces the
    // path with a new file, so the link keeps the old content (umoci agrees).
    const upper = layer([hardlink("copy", "usr/lib/libc.so"), file("usr/lib/libc.so", 700, 70)]);
    const view = buildRootfsView([lower, upper]);
    expect(contentAt(view, "copy")).toBe("0:100:50");
    expect(contentAt(view, "usr/lib/libc.so")).toBe("1:700:70");
  });

  it("links a target that comes later in the same layer", () => {
    const upper = layer([hardlink("copy", "opt/new.so"), file("opt/new.so", 700, 70)]);
    const view = buildRootfsView([lower, upper]);
    expect(contentAt(view, "copy")).toBe("1:700:70");
  });

  it("drops links to whited-out targets", () => {
    const upper = layer([hardlink("copy", "usr/lib/libc.so")], { whiteouts: ["usr/lib/libc.so"] });
    const view = buildRootfsView([lower, upper]);
    expect(namesIn(view, "")).toEqual(["lib", "usr"]);
  });

  it("removes a lower file under a broken link", () => {
    const view = buildRootfsView([lower, layer([hardlink("usr/lib/libc.so", "missing")])]);
    expect(namesIn(view, "usr/lib")).toEqual([]);
  });
});
