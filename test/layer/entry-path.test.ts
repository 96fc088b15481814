import { describe, expect, it } from "vitest";

import {
  classifyEntryPath,
  normalizeEntryPath,
  type EntryPathKind,
} from "../../src/layer/entry-path.js";

describe("normalizeEntryPath", () => {
  const cases: Array<[string, string]> = [
    ["etc/passwd", "etc/passwd"],
    ["./etc/passwd", "etc/passwd"],
    ["/etc/passwd", "etc/passwd"],
    ["//etc///passwd/", "etc/passwd"],
    ["../etc/passwd", "etc/passwd"],
    ["a/b/../../../../c", "c"],
    ["a/./b/.", "a/b"],
    ["..", ""],
    ["./", ""],
    ["", ""],
    ["...", "..."],
    ["..a/b..", "..a/b.."],
    ["sp ace/#?%:\"'\\", "sp ace/#?%:\"'\\"],
    ["ünï/日本/🐳", "ünï/日本/🐳"],
  ];
  for (const [name, expected] of cases) {
    it(`normalizes ${JSON.stringify(name)}`, () => {
      expect(normalizeEntryPath(name)).toBe(expected);
    });
  }
});

describe("classifyEntryPath", () => {
  const cases: Array<[string, EntryPathKind["kind"], string?]> = [
    ["etc/passwd", "entry"],
    ["etc/not.wh.marker", "entry"],
    [".wh.file", "whiteout", "file"],
    ["dir/.wh.file name", "whiteout", "dir/file name"],
    ["dir/.wh..hidden", "whiteout", "dir/.hidden"],
    [".wh..wh..opq", "opaque", ""],
    ["a/b/.wh..wh..opq", "opaque", "a/b"],
    [".wh..wh.plnk", "ignored"],
    [".wh..wh.plnk/1234.5678", "ignored"],
    ["a/.wh.dir/file", "ignored"],
    ["dir/.wh.", "ignored"],
    ["dir/.wh..", "ignored"],
    ["dir/.wh...", "ignored"],
  ];
  for (const [path, kind, target] of cases) {
    it(`classifies ${JSON.stringify(path)} as ${kind}`, () => {
      const result = classifyEntryPath(path);
      expect(result.kind).toBe(kind);
      if (result.kind === "whiteout") expect(result.hiddenPath).toBe(target);
      if (result.kind === "opaque") expect(result.directory).toBe(target);
    });
  }
});
