import { mkdir, readFile, readdir, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { copyTree, unsafeNameReason } from "../../src/cli/copy-tree.js";
import { Output } from "../../src/cli/output.js";
import { TreeSession } from "../../src/cli/tree-session.js";
import { notFound } from "../../src/errors.js";
import type { NodeInfo, VirtualTree } from "../../src/tree/virtual-tree.js";
import { makeTempDir, type TempDir } from "../harness/tools.js";

const modified = new Date("2022-02-02T02:02:02Z");

function file(name: string, size = 3): NodeInfo {
  return { name, type: "file", size, modified };
}

function folder(name: string): NodeInfo {
  return { name, type: "directory", size: 0, modified };
}

/**
 * A tree whose folder `top` lists names that a hostile layer could carry.
 * Every lookup is recorded, so a test can check that no unsafe name is used.
 */
class HostileTree implements VirtualTree {
  readonly lookups: string[] = [];

  async stat(path: readonly string[]): Promise<NodeInfo> {
    return path.length === 1 ? folder("top") : file(path.at(-1)!);
  }

  async list(path: readonly string[]): Promise<NodeInfo[]> {
    this.lookups.push(path.join("|"));
    if (path.join("/") === "top") {
      return [file(".."), file("."), file(""), file("a/b"), file("x\0y"), folder("sub"), file("ok")];
    }
    if (path.join("/") === "top/sub") return [folder(".."), file("inner")];
    throw notFound(`no folder ${path.join("/")}`);
  }

  async read(path: readonly string[]): Promise<Readable> {
    this.lookups.push(path.join("|"));
    return Readable.from([Buffer.from("abc")]);
  }
}

describe("copyTree", () => {
  let work: TempDir;
  let errors: string[];
  let session: TreeSession;
  let tree: HostileTree;

  beforeEach(async () => {
    work = await makeTempDir("copy-tree");
    errors = [];
    tree = new HostileTree();
    const output = new Output(new PassThrough());
    session = new TreeSession(tree, output, { platform: "linux/amd64", sources: [] }, (line) => errors.push(line));
  });

  afterEach(async () => {
    await work.remove();
  });

  const top = () => ({ segments: ["top"], display: "/top", info: folder("top") });

  it("skips unsafe names and says so", async () => {
    const destination = join(work.path, "dest");
    await copyTree(session, top(), destination, true);

    expect((await readdir(destination)).sort()).toEqual(["ok", "sub"]);
    expect(await readdir(join(destination, "sub"))).toEqual(["inner"]);
    expect((await readdir(work.path)).sort()).toEqual(["dest"]);
    expect(errors.filter((line) => line.includes("skipped an entry of /top:"))).toHaveLength(5);
    expect(errors.some((line) => line.includes('"a/b" contains "/"'))).toBe(true);
    expect(errors.some((line) => line.includes('"x\\u0000y" contains NUL'))).toBe(true);
    expect(errors.some((line) => line.includes('the name ".." is not a file name'))).toBe(true);
    expect(errors.some((line) => line.includes("skipped an entry of /top/sub:"))).toBe(true);
    expect(session.exitCode).toBe(4);
  });

  it("never looks up an unsafe name", async () => {
    await copyTree(session, top(), join(work.path, "dest"), true);
    expect(tree.lookups.sort()).toEqual(["top", "top|ok", "top|sub", "top|sub|inner"]);
  });

  it("sets modification times", async () => {
    const destination = join(work.path, "dest");
    await copyTree(session, top(), destination, true);
    expect((await stat(join(destination, "ok"))).mtime.toISOString()).toBe(modified.toISOString());
    expect((await stat(join(destination, "sub"))).mtime.toISOString()).toBe(modified.toISOString());
    expect((await stat(destination)).mtime.toISOString()).toBe(modified.toISOString());
  });

  it("does not follow a symlink to a folder inside DEST", async () => {
    const outside = join(work.path, "outside");
    const destination = join(work.path, "dest");
    await mkdir(outside);
    await mkdir(destination);
    await symlink(outside, join(destination, "sub"));

    await copyTree(session, top(), destination, true);
    expect(await readdir(outside)).toEqual([]);
    expect(errors.some((line) => line.includes("is a symlink, which cp does not follow"))).toBe(true);
    expect(session.exitCode).toBe(4);
  });

  it("does not write through a symlink to a file inside DEST", async () => {
    const outside = join(work.path, "outside.txt");
    const destination = join(work.path, "dest");
    await writeFile(outside, "keep");
    await mkdir(destination);
    await symlink(outside, join(destination, "ok"));

    await copyTree(session, top(), destination, true);
    expect(await readFile(outside, "utf8")).toBe("keep");
    expect(errors.some((line) => line.includes("is a symlink, which cp does not follow"))).toBe(true);
  });

  it("follows DEST itself when it is a symlink to a folder", async () => {
    const real = join(work.path, "real");
    await mkdir(real);
    await symlink(real, join(work.path, "link"));
    await copyTree(session, top(), join(work.path, "link"), true);
    expect((await readdir(real)).sort()).toEqual(["ok", "sub"]);
  });

  it("reports a file where a folder goes", async () => {
    const destination = join(work.path, "dest");
    await mkdir(destination);
    await writeFile(join(destination, "sub"), "a file");
    await copyTree(session, top(), destination, true);
    expect(errors.some((line) => line.includes("exists and is not a folder"))).toBe(true);
    expect(await readFile(join(destination, "ok"), "utf8")).toBe("abc");
  });
});

describe("unsafeNameReason", () => {
  it.each(["", ".", "..", "a/b", "/", "a\0"])("rejects %j", (name) => {
    expect(unsafeNameReason(name)).toBeDefined();
  });

  it.each(["a", "...", ".hidden", "a b", "a\\b", "sha256:abc"])("accepts %j", (name) => {
    expect(unsafeNameReason(name)).toBeUndefined();
  });
});
