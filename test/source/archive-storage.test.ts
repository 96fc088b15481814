import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { makeLayerTar, type TarEntry } from "../harness/image-builder.js";
import { makeTempDir, requireTool, runCommand, type TempDir } from "../harness/tools.js";
import { ArchiveStorage } from "../../src/source/archive-storage.js";
import { parseNumericField } from "../../src/source/archive-tar-header.js";
import { normalizeMemberName, scanTar } from "../../src/source/archive-tar-scan.js";
import { readAll } from "./local-source-conformance.js";

let dir: TempDir;

beforeEach(async () => {
  dir = await makeTempDir("archive-storage");
});

afterEach(async () => {
  await dir.remove();
});

async function archiveOf(entries: TarEntry[], name = "test.tar"): Promise<string> {
  const path = join(dir.path, name);
  await writeFile(path, await makeLayerTar(entries));
  return path;
}

const file = (path: string, content: string): TarEntry => ({ type: "file", path, content });

describe("ArchiveStorage links", () => {
  it("follows a hard link to the member it names", async () => {
    const storage = await ArchiveStorage.open(
      await archiveOf([file("a", "first"), { type: "hardlink", path: "b", target: "a" }]),
    );
    expect((await storage.readFile("b", 100)).toString()).toBe("first");
    expect(await storage.sizeOf("b")).toBe(5);
  });

  it("follows a relative symbolic link inside the archive", async () => {
    const storage = await ArchiveStorage.open(
      await archiveOf([
        file("x.tar", "layer"),
        { type: "symlink", path: "id/layer.tar", target: "../x.tar" },
      ]),
    );
    expect((await readAll(await storage.openFile("id/layer.tar"))).toString()).toBe("layer");
  });

  it.each([
    ["escaping", [{ type: "symlink", path: "a/link", target: "../../etc/passwd" }]],
    ["absolute", [{ type: "symlink", path: "link", target: "/etc/passwd" }]],
    [
      "looping",
      [
        { type: "symlink", path: "link", target: "other" },
        { type: "symlink", path: "other", target: "link" },
      ],
    ],
  ] as [string, TarEntry[]][])("treats an %s link as missing", async (_kind, links) => {
    const storage = await ArchiveStorage.open(
      await archiveOf([file("etc/passwd", "inside"), ...links]),
    );
    const name = links[0]!.path;
    expect(await storage.sizeOf(name)).toBeUndefined();
    await expect(storage.readFile(name, 100)).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});

describe("ArchiveStorage names", () => {
  it("normalizes ./ prefixes and doubled slashes", async () => {
    const storage = await ArchiveStorage.open(
      await archiveOf([file("./blobs//sha256/./abc", "x")]),
    );
    expect((await storage.readFile("blobs/sha256/abc", 10)).toString()).toBe("x");
  });

  it("takes the later duplicate member", async () => {
    const storage = await ArchiveStorage.open(
      await archiveOf([file("index.json", "old"), file("./index.json", "new")]),
    );
    expect((await storage.readFile("index.json", 10)).toString()).toBe("new");
  });

  it("reads names split into the ustar prefix field", async () => {
    const folder = join(dir.path, "tree");
    const deep = `${"d".repeat(60)}/${"e".repeat(60)}`;
    await mkdir(join(folder, deep), { recursive: true });
    await writeFile(join(folder, deep, "file"), "deep");
    const archive = join(dir.path, "ustar.tar");
    await runCommand(await requireTool("tar"), [
      "--format=ustar",
      "-cf",
      archive,
      "-C",
      folder,
      ".",
    ]);
    const storage = await ArchiveStorage.open(archive);
    expect((await storage.readFile(`${deep}/file`, 10)).toString()).toBe("deep");
  });

  it("reads an empty member as an empty stream", async () => {
    const storage = await ArchiveStorage.open(await archiveOf([file("empty", "")]));
    expect(await readAll(await storage.openFile("empty"))).toEqual(Buffer.alloc(0));
  });

  it("has no files for directory members", async () => {
    const storage = await ArchiveStorage.open(
      await archiveOf([{ type: "directory", path: "blobs" }]),
    );
    expect(storage.has("blobs")).toBe(true);
    expect(await storage.sizeOf("blobs")).toBeUndefined();
  });

  it.each([
    ["./a/b", "a/b"],
    ["/abs/path", "abs/path"],
    ["a/./b/", "a/b"],
    ["./", undefined],
    ["a/../b", undefined],
  ])("normalizes %j", (raw, expected) => {
    expect(normalizeMemberName(raw)).toBe(expected);
  });
});

describe("ArchiveStorage damage", () => {
  it("keeps members before a corrupt header", async () => {
    const bytes = await makeLayerTar([file("a", "first"), file("b", "second"), file("c", "third")]);
    bytes[1024 + 10] = 0x41;
    const path = join(dir.path, "corrupt.tar");
    await writeFile(path, bytes);
    const storage = await ArchiveStorage.open(path);

    expect((await storage.readFile("a", 10)).toString()).toBe("first");
    await expect(storage.readFile("c", 10)).rejects.toThrow(
      /invalid tar header at byte 1024.*later members are missing/,
    );
  });

  it("rejects a file that is not a tar", async () => {
    const path = join(dir.path, "notes.txt");
    await writeFile(path, "just some text\n".repeat(100));
    await expect(ArchiveStorage.open(path)).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(ArchiveStorage.open(path)).rejects.toThrow(/is not a tar archive/);
  });

  it("rejects a gzip-compressed archive", async () => {
    const path = join(dir.path, "image.tar.gz");
    await writeFile(path, gzipSync(await makeLayerTar([file("a", "x")])));
    await expect(ArchiveStorage.open(path)).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(ArchiveStorage.open(path)).rejects.toThrow(/gzip-compressed.*decompress it first/);
  });

  it("flags an archive without end blocks", async () => {
    const bytes = await makeLayerTar([file("a", "x")]);
    const path = join(dir.path, "no-end.tar");
    await writeFile(path, bytes.subarray(0, 1024));
    const listing = await scanTar(path);
    expect(listing.members.get("a")?.size).toBe(1);
    expect(listing.problem).toMatch(/without an end-of-archive block/);
  });
});

describe("parseNumericField", () => {
  it.each([
    ["octal with NUL", Buffer.from("00000001750\0"), 1000],
    ["octal with spaces", Buffer.from(" 1750 \0"), 1000],
    ["empty", Buffer.alloc(12), 0],
    ["base-256", Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0]), 2 * 2 ** 32],
  ])("reads %s", (_name, field, expected) => {
    expect(parseNumericField(field)).toBe(expected);
  });

  it.each([
    ["non-octal", Buffer.from("0000000189\0")],
    [
      "negative base-256",
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    ],
    [
      "beyond safe integers",
      Buffer.from([0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    ],
  ])("rejects %s", (_name, field) => {
    expect(parseNumericField(field)).toBeUndefined();
  });
});
