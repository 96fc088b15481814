import { createHash } from "node:crypto";
import { lstat, mkdir, readFile, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { resolveInRoot } from "../e2e/chroot-resolve.js";
import { unpackWithUmoci, walkTree, type UnpackedImage } from "../harness/oracle.js";
import { makeTempDir, type TempDir } from "../harness/tools.js";
import { runRegdav, startCliFixture, type CliFixture, type RunResult } from "./cli-fixture.js";

interface CopiedEntry {
  path: string;
  type: "file" | "directory";
  sha256?: string;
}

/**
 * Lists `relative` below an unpacked root filesystem as regdav shows it:
 * symlinks followed inside the root (a file link as its target's content, a
 * folder link as the target's entries), dangling links left out.
 */
async function walkResolved(root: string, relative: string, shownAs = relative): Promise<CopiedEntry[]> {
  const entries: CopiedEntry[] = [];
  for (const name of (await readdir(join(root, relative))).sort()) {
    const resolution = await resolveInRoot(root, `${relative}/${name}`);
    const path = `${shownAs}/${name}`;
    if (resolution.kind === "file") {
      entries.push({ path, type: "file", sha256: await hashFile(join(root, resolution.path)) });
    } else if (resolution.kind === "directory") {
      entries.push({ path, type: "directory" });
      entries.push(...(await walkResolved(root, resolution.path, path)));
    }
  }
  return entries;
}

async function hashFile(path: string): Promise<string> {
  return `sha256:${createHash("sha256").update(await readFile(path)).digest("hex")}`;
}

/** Lists a copy made by regdav cp, which holds only files and folders. */
async function walkCopy(root: string, prefix: string): Promise<CopiedEntry[]> {
  const entries = await walkTree(root);
  return entries.map((entry) => {
    expect(["file", "directory"], entry.path).toContain(entry.type);
    const copied: CopiedEntry = { path: `${prefix}/${entry.path}`, type: entry.type as CopiedEntry["type"] };
    if (entry.sha256 !== undefined) copied.sha256 = entry.sha256;
    return copied;
  });
}

function byPath(a: CopiedEntry, b: CopiedEntry): number {
  if (a.path === b.path) return 0;
  return a.path < b.path ? -1 : 1;
}

describe("regdav cp", () => {
  let fixture: CliFixture;
  let unpacked: UnpackedImage;
  let host: string;
  let scratch: TempDir;

  const run = (...args: string[]) => runRegdav([...args, ...fixture.treeArgs]);

  function expectSuccess(result: RunResult) {
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout.length).toBe(0);
  }

  beforeAll(async () => {
    fixture = await startCliFixture({ bigBytes: 256 * 1024 });
    host = fixture.host;
    unpacked = await unpackWithUmoci(host, "team/app", "v1");
  });

  afterAll(async () => {
    await unpacked?.remove();
    await fixture?.stop();
  });

  beforeEach(async () => {
    scratch = await makeTempDir("cli-cp");
  });

  afterEach(async () => {
    await scratch.remove();
  });

  it("copies rootfs/etc as umoci unpacks it", async () => {
    const target = join(scratch.path, "etc");
    expectSuccess(await run("cp", `${host}/team/app:v1:/etc`, target));

    const expected = (await walkResolved(unpacked.rootfs, "etc")).sort(byPath);
    const copied = (await walkCopy(target, "etc")).sort(byPath);
    expect(copied).toEqual(expected);
  });

  it("keeps the modification times of files", async () => {
    const target = join(scratch.path, "etc");
    expectSuccess(await run("cp", `${host}/team/app:v1:/etc`, target));

    for (const name of ["os-release", "hostname", "passwd", "passwd-hard", "space name.conf", "ssl/certs/ca.pem"]) {
      const original = await lstat(join(unpacked.rootfs, "etc", name));
      const copy = await stat(join(target, name));
      expect(copy.mtime.toISOString(), name).toBe(original.mtime.toISOString());
    }
  });

  it("gives folders the times that ls shows", async () => {
    const target = join(scratch.path, "etc");
    expectSuccess(await run("cp", `${host}/team/app:v1:/etc`, target));

    const listing = await run("find", `${host}/team/app:v1:/etc`, "-type", "d", "--json");
    const folders = listing.stdout.toString().trimEnd().split("\n").map((line) => JSON.parse(line));
    expect(folders.length).toBe(5);
    for (const folder of folders) {
      const relative = folder.path.split("/rootfs/etc").at(1) as string;
      const copy = await stat(join(target, relative));
      expect(copy.mtime.toISOString(), folder.path).toBe(folder.modified);
    }
  });

  it("copies the whole rootfs by tree path", async () => {
    const target = join(scratch.path, "rootfs");
    expectSuccess(await run("cp", `/${host}/team/app/_tags/v1/rootfs`, target));
    const expected = (await walkResolved(unpacked.rootfs, ".", "."))
      .map((entry) => ({ ...entry, path: entry.path.replace(/^\.\//, "") }))
      .sort(byPath);
    const copied = (await walkTree(target)).map((entry) => {
      const copiedEntry: CopiedEntry = { path: entry.path, type: entry.type as CopiedEntry["type"] };
      if (entry.sha256 !== undefined) copiedEntry.sha256 = entry.sha256;
      return copiedEntry;
    });
    expect(copied.sort(byPath)).toEqual(expected);
  });

  it("copies into an existing folder under the source's name", async () => {
    expectSuccess(await run("cp", `${host}/team/app:v1:/etc/ssl`, scratch.path));
    expect(await readdir(scratch.path)).toEqual(["ssl"]);
    expect(await readFile(join(scratch.path, "ssl", "certs", "ca.pem"), "utf8")).toBe("-----BEGIN CERTIFICATE-----\n");
  });

  it("copies onto an existing folder with -T", async () => {
    expectSuccess(await run("cp", "-T", `${host}/team/app:v1:/etc/ssl`, scratch.path));
    expect((await readdir(scratch.path)).sort()).toEqual(["certs", "links"]);
  });

  it("accepts -r and -R", async () => {
    expectSuccess(await run("cp", "-r", `${host}/team/app:v1:/etc/ssl`, join(scratch.path, "a")));
    expectSuccess(await run("cp", "-R", `${host}/team/app:v1:/etc/ssl`, join(scratch.path, "b")));
    expect((await readdir(join(scratch.path, "b"))).sort()).toEqual(["certs", "links"]);
  });

  it("copies a file to a new name and into a folder", async () => {
    const renamed = join(scratch.path, "release.txt");
    expectSuccess(await run("cp", `${host}/team/app:v1:/etc/os-release`, renamed));
    expect(await readFile(renamed, "utf8")).toBe("ID=app\nVERSION=1\n");
    expect((await stat(renamed)).mtime.toISOString()).toBe("2024-06-07T08:09:10.000Z");

    expectSuccess(await run("cp", `${host}/team/app:v1:/data/big.bin`, scratch.path));
    expect((await readFile(join(scratch.path, "big.bin"))).equals(fixture.app.big)).toBe(true);
  });

  it("overwrites an existing file", async () => {
    const target = join(scratch.path, "hostname");
    await writeFile(target, "a much longer old content\n");
    expectSuccess(await run("cp", `${host}/team/app:v1:/etc/hostname`, target));
    expect(await readFile(target, "utf8")).toBe("app\n");
  });

  it("merges into an earlier copy", async () => {
    const target = join(scratch.path, "etc");
    expectSuccess(await run("cp", `${host}/team/app:v1:/etc`, target));
    expectSuccess(await run("cp", "-T", `${host}/team/app:v1:/etc`, target));
    expect(await readFile(join(target, "os-release"), "utf8")).toBe("ID=app\nVERSION=1\n");
  });

  it.each([
    ["team/docker:v1", "etc/os-release", "ID=docker\n"],
    ["legacy/app:old", "etc/os-release", "ID=schema1\n"],
    ["team/multi:v1", "etc/arch", "amd64\n"],
  ])("copies the rootfs of %s", async (reference, file, content) => {
    const target = join(scratch.path, "copy");
    expectSuccess(await run("cp", `${host}/${reference}:/`, target));
    expect(await readFile(join(target, file), "utf8")).toBe(content);
  });

  it("copies an artifact's folder", async () => {
    const target = join(scratch.path, "artifact");
    expectSuccess(await run("cp", `${host}/team/artifact:v1`, target));
    const names = await readdir(target);
    expect(names).toEqual(expect.arrayContaining(["config.json", "layers", "manifest.json"]));
    expect((await readFile(join(target, "manifest.json"))).equals(fixture.artifact.manifest.bytes)).toBe(true);
    const layers = await readdir(join(target, "layers"));
    expect(layers).toHaveLength(1);
    const layer = await readFile(join(target, "layers", layers[0]!));
    expect(layer.equals(fixture.artifact.layer.bytes)).toBe(true);
  });

  it("copies a schema1 image's folder with its layers", async () => {
    const target = join(scratch.path, "legacy");
    await mkdir(target);
    expectSuccess(await run("cp", "-T", `${host}/legacy/app:old`, target));
    expect(await readFile(join(target, "rootfs", "etc", "os-release"), "utf8")).toBe("ID=schema1\n");
    const layerFolders = (await readdir(join(target, "layers"))).filter((name) => !name.includes("."));
    expect(layerFolders).toHaveLength(2);
  });
});
