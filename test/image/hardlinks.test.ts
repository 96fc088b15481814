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

  it("names a missing link target on lookup", () => {
    const view = buildLayerView(layer([file("kept", 1), hardlink("broken", "nowhere")]));
    const expected = `"broken" not found: it is a hardlink to "nowhere", which is not a file in this image`;
    expect(() => view.lookup(["broken"])).toThrow(expected);
  });

  it("explains a lower-layer target in a layer view", () => {
    const upper = layer([hardlink("bin/alias", "bin/tool")]);
    const view = buildLayerView(upper, 2);
    expect(namesIn(view, "bin")).toEqual([]);
    expect(() => view.lookup(["bin", "alias"])).toThrow(`a hardlink to "bin/tool", which is not in this layer and may be a file of a lower layer`);
    expect(() => view.lookup(["bin", "alias"])).toThrow("read it in the image's rootfs/");
  });

  it("keeps a plain 404 for a whited-out link", () => {
    const base = layer([hardlink("gone", "nowhere")]);
    const upper = layer([file("kept", 1)], { whiteouts: ["gone"] });
    const view = buildRootfsView([base, upper]);
    expect(() => view.lookup(["gone"])).toThrow(/^"gone" not found$/);
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

describe("hardlinks through a lower layer's symlink", () => {
  const lower = layer([dir("real"), file("real/f", 100), symlink("s", "real")]);

  it("sees an earlier entry of its own layer", () => {
    const view = buildRootfsView([lower, layer([file("real/f", 200), hardlink("h", "s/f")])]);
    expect(contentAt(view, "h")).toBe("1:200:10");
  });

  it("sees a whiteout of its own layer", () => {
    const view = buildRootfsView([lower, layer([hardlink("h", "s/f")], { whiteouts: ["real/f"] })]);
    expect(contentAt(view, "h")).toBe("missing");
  });

  it("sees an opaque marker of its own layer", () => {
    const view = buildRootfsView([lower, layer([hardlink("h", "s/f")], { opaque: ["real"] })]);
    expect(contentAt(view, "h")).toBe("missing");
  });

  it("sees a folder that replaced the symlink", () => {
    const view = buildRootfsView([lower, layer([dir("s"), hardlink("h", "s/f")])]);
    expect(contentAt(view, "h")).toBe("missing");
  });

  it("reads the lower file when its layer leaves the way alone", () => {
    const view = buildRootfsView([lower, layer([file("other", 300), hardlink("h", "s/f")])]);
    expect(contentAt(view, "h")).toBe("0:100:10");
  });
});

describe("hardlinks to later links", () => {
  // In tar order, b/y links to a/x and a/x links to b/w before either target exists.
  const stack = [layer([hardlink("b/y", "a/x"), hardlink("a/x", "b/w"), file("b/w", 300)])];

  it("resolves when the linking folder is read first", () => {
    const view = buildRootfsView(stack);
    expect(contentAt(view, "b/y")).toBe("0:300:10");
    expect(contentAt(view, "a/x")).toBe("0:300:10");
  });

  it("resolves when the linked folder is read first", () => {
    const view = buildRootfsView(stack);
    expect(contentAt(view, "a/x")).toBe("0:300:10");
    expect(contentAt(view, "b/y")).toBe("0:300:10");
  });

  /** Returns a layer where d0/l links to d1/l and so on, each before its target exists, and the last is a file. */
  function chain(length: number) {
    const entries = Array.from({ length }, (_, i) => hardlink(`d${i}/l`, `d${i + 1}/l`));
    return [layer([...entries, file(`d${length}/l`, 512, 5)])];
  }

  it("resolves a chain of 100 links", () => {
    expect(contentAt(buildRootfsView(chain(100)), "d0/l")).toBe("0:512:5");
  });

  it("leaves out links past a chain of 500", () => {
    const view = buildRootfsView(chain(3000));
    expect(() => view.lookup(["d0", "l"])).toThrow(expect.objectContaining({ code: "NOT_FOUND" }));
    expect(contentAt(view, "d2999/l")).toBe("0:512:5");
  });
});
