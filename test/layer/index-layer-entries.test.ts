import { describe, expect, it } from "vitest";

import {
  contentOf,
  entryAt,
  gnuLongMember,
  indexBlob,
  nodeContentOf,
  padded,
  paxMember,
  tarHeader,
  tarMember,
  tarOf,
  treeNodeAt,
} from "./tar-fixtures.js";

describe("indexLayer entry names", () => {
  const normalized: Array<[string, string]> = [
    ["/etc/passwd", "etc/passwd"],
    ["../../escape.txt", "escape.txt"],
    ["a/../../b.txt", "b.txt"],
    ["./a/./b//c.txt", "a/b/c.txt"],
    ["with space.txt", "with space.txt"],
    ["hash#and?query.txt", "hash#and?query.txt"],
    ["percent%20name", "percent%20name"],
    ["colon:name", "colon:name"],
    ["quote\"and'apostrophe", "quote\"and'apostrophe"],
    ["back\\slash", "back\\slash"],
    ["ünïcødé/日本語.txt", "ünïcødé/日本語.txt"],
    ["emoji 🐳.txt", "emoji 🐳.txt"],
  ];
  for (const [name, path] of normalized) {
    it(`keeps ${JSON.stringify(name)} as ${JSON.stringify(path)}`, async () => {
      const tar = tarOf(tarMember({ name }, "content"));
      const index = await indexBlob(tar);

      expect(index.entries.map((entry) => entry.path)).toEqual([path]);
      expect(contentOf(tar, index.entries[0])).toBe("content");
    });
  }

  it("skips entries for the root folder itself", async () => {
    const tar = tarOf(
      tarMember({ name: "./", typeflag: "5" }),
      tarMember({ name: "/", typeflag: "5" }),
      tarMember({ name: "..", typeflag: "5" }),
      tarMember({ name: "kept" }, "k"),
    );
    const index = await indexBlob(tar);
    expect(index.entries.map((entry) => entry.path)).toEqual(["kept"]);
  });

  it("joins the ustar prefix field", async () => {
    const tar = tarOf(tarMember({ name: "file.txt", prefix: "some/long/prefix" }, "prefixed"));
    const index = await indexBlob(tar);

    expect(index.entries.map((entry) => entry.path)).toEqual(["some/long/prefix/file.txt"]);
    expect(contentOf(tar, index.entries[0])).toBe("prefixed");
  });

  it("ignores the prefix area of GNU headers", async () => {
    const tar = tarOf(tarMember({ name: "gnu.txt", prefix: "not-a-prefix", magic: "gnu" }, "g"));
    const index = await indexBlob(tar);
    expect(index.entries.map((entry) => entry.path)).toEqual(["gnu.txt"]);
  });

  it("applies PAX path, linkpath, size and mtime", async () => {
    const longName = "deep/" + "x".repeat(250) + "/file with ✓.txt";
    const tar = tarOf(
      paxMember({ path: longName, size: "5", mtime: "1650000123.75" }),
      tarMember({ name: "truncated-name", size: 0 }),
      Buffer.from("hello".padEnd(512, "\0")),
      paxMember({ linkpath: "/target/" + "t".repeat(200) }),
      tarMember({ name: "symlink", typeflag: "2", linkName: "short" }),
    );
    const index = await indexBlob(tar);

    expect(entryAt(index, longName)).toMatchObject({
      type: "file",
      size: 5,
      modified: 1_650_000_123_750,
    });
    expect(contentOf(tar, entryAt(index, longName))).toBe("hello");
    expect(entryAt(index, "symlink")?.linkTarget).toBe("/target/" + "t".repeat(200));
  });

  it("applies GNU long names and long link targets", async () => {
    const longName = "gnu/" + "n".repeat(400);
    const longTarget = "../" + "t".repeat(300);
    const tar = tarOf(
      gnuLongMember("L", longName),
      tarMember({ name: "cut", magic: "gnu" }, "long"),
      gnuLongMember("K", longTarget),
      gnuLongMember("L", "gnu/link"),
      tarMember({ name: "cut2", typeflag: "2", linkName: "cut", magic: "gnu" }),
    );
    const index = await indexBlob(tar);

    expect(contentOf(tar, entryAt(index, longName))).toBe("long");
    expect(entryAt(index, "gnu/link")).toMatchObject({ type: "symlink", linkTarget: longTarget });
  });

  it("reads base-256 size fields", async () => {
    const sizeField = Buffer.alloc(12);
    sizeField[0] = 0x80;
    sizeField.writeUInt32BE(1000, 8);
    const content = Buffer.alloc(1000, "z");
    const big = Buffer.concat([tarHeader({ name: "big", sizeField }), content, Buffer.alloc(24)]);
    const tar = tarOf(big, tarMember({ name: "after" }, "a"));
    const index = await indexBlob(tar);

    expect(entryAt(index, "big")?.size).toBe(1000);
    expect(contentOf(tar, entryAt(index, "after"))).toBe("a");
  });

  it("ignores records of a PAX global header", async () => {
    const tar = tarOf(
      paxMember({ path: "global-name" }, "g"),
      tarMember({ name: "own-name" }, "o"),
    );
    const index = await indexBlob(tar);
    expect(index.entries.map((entry) => entry.path)).toEqual(["own-name"]);
  });
});

describe("indexLayer entry types", () => {
  it("keeps a repeated path at each of its places in the tar", async () => {
    const tar = tarOf(
      tarMember({ name: "dup" }, "first"),
      tarMember({ name: "other" }, "o"),
      tarMember({ name: "./dup" }, "second"),
    );
    const index = await indexBlob(tar);

    expect(index.entries.map((entry) => entry.path)).toEqual(["dup", "other", "dup"]);
    expect(index.entryCount).toBe(3);
    expect(nodeContentOf(tar, treeNodeAt(index, "dup"))).toBe("second");
  });

  it("gives hardlinks the content of an earlier target in the tree", async () => {
    const tar = tarOf(
      tarMember({ name: "data/original" }, "shared bytes"),
      tarMember({ name: "data/link", typeflag: "1", linkName: "./data/original" }),
      tarMember({ name: "abs-link", typeflag: "1", linkName: "/data/original" }),
      tarMember({ name: "data/original" }, "replaced later"),
    );
    const index = await indexBlob(tar);

    expect(entryAt(index, "data/link")).toEqual({
      path: "data/link",
      type: "hardlink",
      linkTarget: "data/original",
      size: 0,
      mode: expect.any(Number),
      modified: expect.any(Number),
    });
    expect(nodeContentOf(tar, treeNodeAt(index, "data/link"))).toBe("shared bytes");
    expect(nodeContentOf(tar, treeNodeAt(index, "abs-link"))).toBe("shared bytes");
    expect(nodeContentOf(tar, treeNodeAt(index, "data/original"))).toBe("replaced later");
  });

  it("reads a PAX 0.1 sparse file and its hardlink", async () => {
    const records = { "GNU.sparse.size": "100", "GNU.sparse.map": "10,4,96,4", "GNU.sparse.name": "disk.img" };
    const tar = tarOf(
      paxMember(records),
      tarMember({ name: "GNUSparseFile.0/disk.img" }, "abcdwxyz"),
      tarMember({ name: "copy.img", typeflag: "1", linkName: "disk.img" }),
    );
    const index = await indexBlob(tar);

    expect(entryAt(index, "GNUSparseFile.0/disk.img")).toBeUndefined();
    expect(entryAt(index, "disk.img")).toMatchObject({ type: "file", size: 100, sparse: [10, 4, 96, 4] });
    expect(entryAt(index, "copy.img")).toMatchObject({ type: "hardlink", linkTarget: "disk.img" });
    expect(treeNodeAt(index, "copy.img")).toMatchObject({ kind: "file", size: 100, sparse: [10, 4, 96, 4] });
    expect(contentOf(tar, { ...entryAt(index, "disk.img")!, size: 8 })).toBe("abcdwxyz");
  });

  it("reads a PAX 1.0 map over several blocks", async () => {
    // 150 entries make a map of about 1,900 bytes, so numbers cross block boundaries.
    const segments = Array.from({ length: 150 }, (_, index) => [index * 100_000 + 7, 2]).flat();
    const mapText = `150\n${segments.join("\n")}\n`;
    const stored = Buffer.from("ab".repeat(150));
    const records = { "GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.realsize": "15000000" };
    const tar = tarOf(
      paxMember({ ...records, "GNU.sparse.name": "big.img" }),
      tarMember({ name: "GNUSparseFile.0/big.img" }, Buffer.concat([padded(Buffer.from(mapText)), stored])),
    );
    const index = await indexBlob(tar);

    const entry = entryAt(index, "big.img");
    expect(Buffer.byteLength(mapText)).toBeGreaterThan(3 * 512);
    expect(entry?.size).toBe(15_000_000);
    expect(entry?.sparse).toEqual(segments);
    expect(contentOf(tar, { ...entry!, size: stored.length })).toBe(stored.toString());
  });

  it("ignores sparse records on a folder", async () => {
    const records = { "GNU.sparse.size": "100", "GNU.sparse.map": "0,4" };
    const tar = tarOf(paxMember(records), tarMember({ name: "folder/", typeflag: "5" }), tarMember({ name: "after" }, "x"));
    const index = await indexBlob(tar);

    expect(entryAt(index, "folder")).toMatchObject({ type: "directory", size: 0 });
    expect(entryAt(index, "folder")?.sparse).toBeUndefined();
    expect(contentOf(tar, entryAt(index, "after"))).toBe("x");
  });

  it("leaves hardlinks to other layers unresolved", async () => {
    const tar = tarOf(tarMember({ name: "link", typeflag: "1", linkName: "../lower/file" }));
    const index = await indexBlob(tar);

    expect(entryAt(index, "link")).toEqual({
      path: "link",
      type: "hardlink",
      size: 0,
      mode: 0o644,
      modified: 1_650_000_000_000,
      linkTarget: "lower/file",
    });
  });

  it("keeps symlink targets as written", async () => {
    const tar = tarOf(
      tarMember({ name: "abs", typeflag: "2", linkName: "/etc/../../outside" }),
      tarMember({ name: "rel", typeflag: "2", linkName: "../x y/./z" }),
    );
    const index = await indexBlob(tar);

    expect(entryAt(index, "abs")?.linkTarget).toBe("/etc/../../outside");
    expect(entryAt(index, "rel")?.linkTarget).toBe("../x y/./z");
  });

  it("leaves out devices, fifos and unknown types", async () => {
    const tar = tarOf(
      tarMember({ name: "dev/null", typeflag: "3" }),
      tarMember({ name: "dev/sda", typeflag: "4" }),
      tarMember({ name: "pipe", typeflag: "6" }),
      tarMember({ name: "vendor", typeflag: "Z" }, "vendor data"),
      tarMember({ name: "kept" }, "k"),
    );
    const index = await indexBlob(tar);

    expect(index.entries.map((entry) => entry.path)).toEqual(["kept"]);
    expect(contentOf(tar, entryAt(index, "kept"))).toBe("k");
  });

  it("reads v7 and contiguous members", async () => {
    const tar = tarOf(
      tarMember({ name: "v7dir/", typeflag: "\0", magic: "v7" }),
      tarMember({ name: "v7dir/file", typeflag: "\0", magic: "v7" }, "v7"),
      tarMember({ name: "contiguous", typeflag: "7" }, "c"),
      tarMember({ name: "dumpdir", typeflag: "D", magic: "gnu" }, "Yname\0\0"),
    );
    const index = await indexBlob(tar);

    expect(index.entries.map((entry) => [entry.path, entry.type])).toEqual([
      ["v7dir", "directory"],
      ["v7dir/file", "file"],
      ["contiguous", "file"],
      ["dumpdir", "directory"],
    ]);
    expect(contentOf(tar, entryAt(index, "v7dir/file"))).toBe("v7");
  });
});

describe("indexLayer whiteouts", () => {
  it("records whiteouts apart from entries", async () => {
    const tar = tarOf(
      tarMember({ name: ".wh.top" }),
      tarMember({ name: "dir/.wh.gone file" }),
      tarMember({ name: "./dotted/.wh.x" }),
      tarMember({ name: "/abs/.wh.y" }),
      tarMember({ name: "../../.wh.escaped" }),
      tarMember({ name: ".wh..wh..opq" }),
      tarMember({ name: "dir/.wh..wh..opq" }),
      tarMember({ name: "dir/new" }, "n"),
    );
    const index = await indexBlob(tar);

    expect(index.whiteouts).toEqual(["top", "dir/gone file", "dotted/x", "abs/y", "escaped"]);
    expect(index.opaqueDirectories).toEqual(["", "dir"]);
    expect(index.entries.map((entry) => entry.path)).toEqual(["dir/new"]);
  });

  it("skips aufs metadata and unsafe whiteout names", async () => {
    const tar = tarOf(
      tarMember({ name: ".wh..wh.plnk", typeflag: "5" }),
      tarMember({ name: ".wh..wh.plnk/12345.678" }, "aufs"),
      tarMember({ name: ".wh..wh.aufs" }),
      tarMember({ name: "dir/.wh." }),
      tarMember({ name: "dir/.wh.." }),
      tarMember({ name: "dir/.wh..." }),
      tarMember({ name: ".wh.folder/inside" }, "i"),
    );
    const index = await indexBlob(tar);

    expect(index.entries).toEqual([]);
    expect(index.whiteouts).toEqual([]);
    expect(index.opaqueDirectories).toEqual([]);
  });
});
