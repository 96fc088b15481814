import { describe, expect, it } from "vitest";

import { buildOwnTree } from "../../src/image/own-tree.js";
import {
  MAX_SYMLINK_HOPS,
  resolvePath,
  type PathResolution,
} from "../../src/image/resolve-path.js";
import {
  findDirectory,
  type DirectoryNode,
  type TreeNode,
} from "../../src/image/view-tree.js";
import { dir, file, layer, symlink } from "./index-fixtures.js";

function tree(): DirectoryNode {
  const entries = [
    dir("usr/lib"),
    file("usr/lib/libc.so", 100),
    symlink("lib", "usr/lib"),
    symlink("usr/lib/up", "../.."),
    symlink("usr/lib/libc-link", "libc.so"),
    symlink("loop", "loop"),
  ];
  return buildOwnTree(layer(entries));
}

/** Returns the resolved node, failing the test unless the status is "found". */
function foundNode(resolution: PathResolution): TreeNode {
  expect(resolution.status).toBe("found");
  if (resolution.status !== "found") throw new Error("not found");
  return resolution.node;
}

function resolveFrom(root: DirectoryNode, start: string, path: string, followFinal = true) {
  const segments = start === "" ? [] : start.split("/");
  const folders = [root];
  for (let i = 1; i <= segments.length; i++) {
    folders.push(findDirectory(root, segments.slice(0, i))!);
  }
  return resolvePath(folders, path, followFinal);
}

describe("resolvePath", () => {
  const root = tree();
  const libc = findDirectory(root, ["usr", "lib"])!.children.get("libc.so");

  const found: Array<[string, string, string]> = [
    ["", "usr/lib/libc.so", "a plain path"],
    ["usr/lib", "/usr/lib/libc.so", "an absolute path"],
    ["usr/lib", "../../../../../usr/lib/libc.so", "a path climbing above the root"],
    ["", "lib/libc.so", "a symlink in the middle"],
    ["", "usr/lib/up/lib/./libc.so", "a symlink back to the root"],
    ["usr", "/../lib/libc-link", "a chain of symlinks"],
  ];
  for (const [start, path, name] of found) {
    it(`resolves ${name}`, () => {
      expect(foundNode(resolveFrom(root, start, path))).toBe(libc);
    });
  }

  it("returns the canonical parents of the result", () => {
    const resolution = resolveFrom(root, "", "lib/libc.so");
    const usr = root.children.get("usr");
    const lib = findDirectory(root, ["usr", "lib"]);
    expect(resolution).toEqual({ status: "found", node: libc, parents: [root, usr, lib] });
  });

  it("resolves the root itself", () => {
    const resolution = resolveFrom(root, "usr/lib", "../../..");
    expect(resolution).toEqual({ status: "found", node: root, parents: [] });
  });

  it("keeps a final symlink unless asked to follow it", () => {
    expect(foundNode(resolveFrom(root, "", "lib", false)).kind).toBe("symlink");
  });

  it("reports missing paths and files used as folders", () => {
    expect(resolveFrom(root, "", "usr/nothing").status).toBe("missing");
    expect(resolveFrom(root, "", "usr/lib/libc.so/x").status).toBe("missing");
    expect(resolveFrom(root, "", "").status).toBe("missing");
  });

  it(`reports a loop after ${MAX_SYMLINK_HOPS} links`, () => {
    expect(resolveFrom(root, "", "loop").status).toBe("loop");
    expect(resolveFrom(root, "", "loop", false).status).toBe("found");
  });
});
