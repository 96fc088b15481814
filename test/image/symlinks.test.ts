import { describe, expect, it } from "vitest";

import { RegdavError } from "../../src/errors.js";
import type { FilesystemView } from "../../src/image/filesystem-view.js";
import { buildLayerView } from "../../src/image/layer-view.js";
import { buildRootfsView } from "../../src/image/rootfs-view.js";
import { contentAt, dir, file, layer, namesIn, segments, symlink } from "./index-fixtures.js";

function lookupError(view: FilesystemView, path: string): RegdavError {
  try {
    view.lookup(segments(path));
  } catch (error) {
    expect(error).toBeInstanceOf(RegdavError);
    return error as RegdavError;
  }
  throw new Error(`lookup of ${path} succeeded`);
}

/** Lists every path below `path`, as a recursive client such as `grep -r` walks it. */
function walk(view: FilesystemView, path: string[] = [], found: string[] = []): string[] {
  if (found.length > 10_000) throw new Error("walk does not end");
  for (const node of view.list(path)) {
    const child = [...path, node.name];
    found.push(child.join("/"));
    if (node.type === "directory") walk(view, child, found);
  }
  return found;
}

describe("file symlinks", () => {
  const view = buildLayerView(
    layer([
      dir("etc"),
      file("etc/passwd", 100, 33),
      symlink("etc/relative", "passwd"),
      symlink("etc/absolute", "/etc/passwd"),
      symlink("bin/dotdot", "../etc/./passwd"),
      symlink("deep/a/b/escape", "../../../../../../../etc/passwd"),
      symlink("outside", "/../../etc/passwd"),
      symlink("chained", "etc/relative"),
    ]),
  );

  const links = [
    "etc/relative",
    "etc/absolute",
    "bin/dotdot",
    "deep/a/b/escape",
    "outside",
    "chained",
  ];
  for (const path of links) {
    it(`shows ${path} as the target file`, () => {
      expect(contentAt(view, path)).toBe("0:100:33");
      expect(view.lookup(segments(path))).toMatchObject({
        name: path.split("/").at(-1),
        type: "file",
        size: 33,
        mode: 0o644,
      });
    });
  }

  it("lists a file symlink as a file", () => {
    const node = view.list(["etc"]).find((entry) => entry.name === "relative");
    expect(node).toMatchObject({
      type: "file",
      size: 33,
      content: { layerIndex: 0, dataOffset: 100, size: 33 },
    });
  });
});

describe("broken symlinks", () => {
  const view = buildLayerView(
    layer([
      file("kept", 1),
      symlink("dangling", "no/such/file"),
      symlink("through-file", "kept/below"),
      symlink("empty-target", ""),
      symlink("loop-a", "loop-b"),
      symlink("loop-b", "loop-a"),
      symlink("self", "self"),
      symlink("dir-loop", "dir-loop/x"),
    ]),
  );

  it("leaves broken links out of listings", () => {
    expect(namesIn(view, "")).toEqual(["kept"]);
  });

  it("names the link and target of a dangling link", () => {
    const error = lookupError(view, "dangling");
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).toContain('"dangling"');
    expect(error.message).toContain('"no/such/file"');
  });

  for (const path of ["loop-a", "self", "dir-loop"]) {
    it(`names the link of the loop at ${path}`, () => {
      const error = lookupError(view, path);
      expect(error.code).toBe("NOT_FOUND");
      expect(error.message).toContain(`"${path}"`);
      expect(error.message).toContain("loop");
    });
  }

  it("follows exactly 40 links and no more", () => {
    const chain = (length: number) => [
      file("end", 1),
      ...Array.from({ length }, (_, i) => symlink(`l${i}`, i === 0 ? "end" : `l${i - 1}`)),
    ];
    expect(contentAt(buildLayerView(layer(chain(40))), "l39")).toBe("0:1:10");
    expect(lookupError(buildLayerView(layer(chain(41))), "l40").message).toContain("loop");
  });
});

describe("folder symlinks", () => {
  const merged = buildRootfsView([
    layer([
      dir("usr/lib"),
      file("usr/lib/libc.so", 100),
      dir("usr/lib/x86_64"),
      file("usr/lib/x86_64/ld.so", 200),
      dir("usr/bin"),
      file("usr/bin/sh", 300),
    ]),
    layer([
      symlink("lib", "usr/lib"),
      symlink("bin", "/usr/bin"),
      symlink("lib64", "lib/x86_64"),
      symlink("usr/lib/self", "."),
      symlink("usr/lib/parent", ".."),
      symlink("usr/lib/root", "/"),
      symlink("usr/lib/again", "../lib"),
    ]),
  ]);

  it("lists a folder symlink with its target's contents", () => {
    const names = ["again", "libc.so", "parent", "root", "self", "x86_64"];
    expect(namesIn(merged, "lib")).toEqual(names);
    expect(merged.lookup(["lib"])).toMatchObject({ name: "lib", type: "directory" });
  });

  it("resolves lookups through links in the middle of a path", () => {
    expect(contentAt(merged, "lib/libc.so")).toBe("0:100:10");
    expect(contentAt(merged, "lib64/ld.so")).toBe("0:200:10");
    expect(contentAt(merged, "bin/sh")).toBe("0:300:10");
    expect(contentAt(merged, "lib/x86_64/ld.so")).toBe("0:200:10");
  });

  it("shows ancestor links as empty folders", () => {
    for (const name of ["self", "parent", "root", "again"]) {
      expect(merged.lookup(["usr", "lib", name]).type, name).toBe("directory");
      expect(merged.list(["usr", "lib", name]), name).toEqual([]);
    }
    expect(lookupError(merged, "usr/lib/self/libc.so").code).toBe("NOT_FOUND");
  });

  it("ends a recursive walk", () => {
    const paths = walk(merged);
    expect(paths).toContain("lib/libc.so");
    expect(paths).toContain("lib64/ld.so");
    expect(paths).toContain("usr/lib/self");
    expect(paths).not.toContain("usr/lib/self/libc.so");
  });

  it("ends a walk through crossed links", () => {
    const view = buildLayerView(
      layer([
        dir("a"),
        dir("b"),
        file("a/fa", 1),
        file("b/fb", 2),
        symlink("a/to-b", "/b"),
        symlink("b/to-a", "../a"),
      ]),
    );
    const paths = walk(view);

    expect(paths).toContain("a/to-b/fb");
    expect(paths).toContain("a/to-b/to-a");
    expect(paths).not.toContain("a/to-b/to-a/fa");
    expect(paths.length).toBeLessThan(20);
  });

  it("rejects using a file as a folder", () => {
    const notADirectory = expect.objectContaining({ code: "NOT_A_DIRECTORY" });
    expect(() => merged.lookup(["usr", "bin", "sh", "x"])).toThrow(notADirectory);
    expect(() => merged.list(["lib", "libc.so"])).toThrow(notADirectory);
    expect(() => merged.list(["nothing"])).toThrow(expect.objectContaining({ code: "NOT_FOUND" }));
  });

  it("resolves links against the merged tree of all layers", () => {
    const view = buildRootfsView([
      layer([symlink("current", "releases/v2")]),
      layer([file("releases/v2/app", 700)]),
    ]);
    expect(contentAt(view, "current/app")).toBe("1:700:10");
  });
});
