import { describe, expect, it } from "vitest";

import { buildRootfsView } from "../../src/image/rootfs-view.js";
import { contentAt, dir, expectMissing, file, layer, namesIn, symlink } from "./index-fixtures.js";

const base = layer([
  dir("etc"),
  file("etc/passwd", 100),
  file("etc/hosts", 200),
  dir("data"),
  file("data/a", 300),
  file("data/b", 400),
  dir("data/sub"),
  file("data/sub/deep", 500),
  file("top", 600),
]);

describe("buildRootfsView whiteouts", () => {
  it("removes a whited-out file of a lower layer", () => {
    const view = buildRootfsView([base, layer([], { whiteouts: ["etc/hosts"] })]);

    expect(namesIn(view, "etc")).toEqual(["passwd"]);
    expectMissing(view, "etc/hosts");
  });

  it("removes a whited-out folder with its subtree", () => {
    const view = buildRootfsView([base, layer([], { whiteouts: ["data"] })]);

    expect(namesIn(view, "")).toEqual(["etc", "top"]);
    expectMissing(view, "data/sub/deep");
  });

  it("keeps an entry of the same layer as its whiteout", () => {
    const view = buildRootfsView([base, layer([file("top", 7000)], { whiteouts: ["top"] })]);
    expect(contentAt(view, "top")).toBe("1:7000:10");
  });

  it("re-creates a whited-out folder with only the new entries", () => {
    const upper = layer([dir("data"), file("data/new", 7000)], { whiteouts: ["data"] });
    const view = buildRootfsView([base, upper]);

    expect(namesIn(view, "data")).toEqual(["new"]);
    expect(contentAt(view, "data/new")).toBe("1:7000:10");
  });

  it("ignores whiteouts of missing paths", () => {
    const upper = layer([], { whiteouts: ["nothing/here", "etc/passwd/below-a-file"] });
    const view = buildRootfsView([base, upper]);
    expect(namesIn(view, "etc")).toEqual(["hosts", "passwd"]);
  });

  it("does not follow symlinks in whiteout paths", () => {
    const lower = layer([dir("real"), file("real/kept", 100), symlink("alias", "real")]);
    const view = buildRootfsView([lower, layer([], { whiteouts: ["alias/kept"] })]);
    expect(contentAt(view, "real/kept")).toBe("0:100:10");
  });

  it("lets a later layer bring back a whited-out path", () => {
    const view = buildRootfsView([
      base,
      layer([], { whiteouts: ["top"] }),
      layer([file("top", 9000)]),
    ]);
    expect(contentAt(view, "top")).toBe("2:9000:10");
  });
});

describe("buildRootfsView opaque folders", () => {
  it("hides lower contents of opaque folders", () => {
    const upper = layer([dir("data"), file("data/c", 7000)], { opaque: ["data"] });
    const view = buildRootfsView([base, upper]);

    expect(namesIn(view, "data")).toEqual(["c"]);
    expectMissing(view, "data/sub/deep");
    expect(namesIn(view, "")).toEqual(["data", "etc", "top"]);
  });

  it("keeps an empty opaque folder", () => {
    const view = buildRootfsView([base, layer([], { opaque: ["data"] })]);

    expect(view.lookup(["data"]).type).toBe("directory");
    expect(namesIn(view, "data")).toEqual([]);
  });

  it("turns a lower file into a folder when it is marked opaque", () => {
    const view = buildRootfsView([base, layer([file("top/inside", 7000)], { opaque: ["top"] })]);
    expect(namesIn(view, "top")).toEqual(["inside"]);
  });

  it("hides everything below when the root is opaque", () => {
    const view = buildRootfsView([base, layer([file("only", 7000)], { opaque: [""] })]);
    expect(namesIn(view, "")).toEqual(["only"]);
  });

  it("applies opaque and whiteout together", () => {
    const markers = { opaque: ["data/sub"], whiteouts: ["data/a"] };
    const upper = layer([file("data/sub/fresh", 7000)], markers);
    const view = buildRootfsView([base, upper]);

    expect(namesIn(view, "data")).toEqual(["b", "sub"]);
    expect(namesIn(view, "data/sub")).toEqual(["fresh"]);
  });

  it("keeps same-layer entries of opaque folders", () => {
    const upper = layer([file("data/before", 7000)], { opaque: ["data"] });
    const view = buildRootfsView([base, upper]);
    expect(namesIn(view, "data")).toEqual(["before"]);
  });

  it("hides only lower layers, not later ones", () => {
    const view = buildRootfsView([
      base,
      layer([], { opaque: ["data"] }),
      layer([file("data/later", 9000)]),
    ]);
    expect(namesIn(view, "data")).toEqual(["later"]);
  });
});

describe("buildRootfsView replacement", () => {
  it("replaces a file with the later layer's file", () => {
    const view = buildRootfsView([base, layer([file("etc/passwd", 7000, 33)])]);

    expect(contentAt(view, "etc/passwd")).toBe("1:7000:33");
    expect(view.lookup(["etc", "passwd"]).size).toBe(33);
  });

  it("drops a folder's subtree when a file replaces it", () => {
    const view = buildRootfsView([
      base,
      layer([file("data", 7000)]),
      layer([file("data/again", 9000)]),
    ]);

    expect(namesIn(view, "data")).toEqual(["again"]);
    expect(contentAt(view, "data/again")).toBe("2:9000:10");
  });

  it("replaces a file with a folder", () => {
    const view = buildRootfsView([base, layer([dir("top"), file("top/child", 7000)])]);
    expect(namesIn(view, "top")).toEqual(["child"]);
  });

  it("merges folder entries and takes metadata", () => {
    const view = buildRootfsView([base, layer([dir("data", 0o700), file("data/c", 7000)])]);

    expect(namesIn(view, "data")).toEqual(["a", "b", "c", "sub"]);
    expect(view.lookup(["data"]).mode).toBe(0o700);
  });

  it("replaces a lower symlink at a parent path with a folder", () => {
    const lower = layer([dir("usr/lib"), file("usr/lib/libc.so", 100), symlink("lib", "usr/lib")]);
    const view = buildRootfsView([lower, layer([file("lib/extra", 7000)])]);

    expect(namesIn(view, "lib")).toEqual(["extra"]);
    expect(namesIn(view, "usr/lib")).toEqual(["libc.so"]);
  });

  it("creates missing parent folders of an upper entry", () => {
    const view = buildRootfsView([base, layer([file("new/deep/path/file", 7000)])]);

    expect(view.lookup(["new", "deep"])).toMatchObject({
      type: "directory",
      mode: 0o755,
      modified: 1_650_000_000_000,
    });
    expect(contentAt(view, "new/deep/path/file")).toBe("1:7000:10");
  });

  it("numbers content by layer position", () => {
    const view = buildRootfsView([
      layer([file("a", 1)]),
      layer([file("b", 2)]),
      layer([file("c", 3)]),
    ]);
    const contents = ["a", "b", "c"].map((path) => contentAt(view, path));
    expect(contents).toEqual(["0:1:10", "1:2:10", "2:3:10"]);
  });
});
