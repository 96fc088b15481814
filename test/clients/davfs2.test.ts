import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { makeTempDir, requireTool, runCommand, type TempDir } from "../harness/tools.js";
import {
  APP_REPOSITORY,
  DECOMPOSED_NAME,
  OS_RELEASE,
  PRECOMPOSED_NAME,
  startClientFixture,
  TRICKY_NAME,
  type ClientFixture,
} from "./client-fixture.js";
import { mountWithDavfs2, type DavfsMount } from "./davfs2-mount.js";

let fixture: ClientFixture;
let mountDir: TempDir;
let mount: DavfsMount;

const mounted = (path: string) => join(mountDir.path, fixture.registryName, path);
const rootfs = (path: string) => mounted(`${APP_REPOSITORY}/_tags/v1/rootfs/${path}`);

beforeAll(async () => {
  fixture = await startClientFixture();
  mountDir = await makeTempDir("davfs2-mount");
  mount = await mountWithDavfs2(fixture.regdav.url, mountDir.path);
});

afterAll(async () => {
  await mount?.unmount();
  await mountDir?.remove();
  await fixture?.stop();
});

describe("davfs2 mount", () => {
  it("ls lists the root", async () => {
    const ls = await requireTool("ls");
    const { stdout } = await runCommand(ls, ["-1", mountDir.path]);
    // davfs2 adds a lost+found folder of its own to every mount.
    expect(stdout.toString().split("\n").filter(Boolean)).toEqual([
      fixture.registryName,
      "lost+found",
    ]);
  });

  it("ls lists the image folder", async () => {
    const names = await readdir(mounted(`${APP_REPOSITORY}/_tags/v1`));
    expect(names).toEqual(
      expect.arrayContaining(["manifest.json", "config.json", "layers", "rootfs"]),
    );
  });

  it("cat reads a rootfs file", async () => {
    const cat = await requireTool("cat");
    const { stdout } = await runCommand(cat, [rootfs("etc/os-release")]);
    expect(stdout.toString()).toBe(OS_RELEASE);
  });

  it("stat shows the file size", async () => {
    expect((await stat(rootfs("etc/os-release"))).size).toBe(OS_RELEASE.length);
  });

  it("grep -r searches a rootfs", async () => {
    const grep = await requireTool("grep");
    const { stdout } = await runCommand(grep, ["-r", "needle", "."], {
      cwd: rootfs(""),
      timeoutMs: 60_000,
    });
    const lines = stdout.toString().split("\n").filter(Boolean).sort();
    expect(lines).toEqual([
      "./etc/app.conf:needle=2",
      "./usr/share/doc/notes.txt:needle in the docs",
    ]);
  });

  it("reads tricky and accented names", async () => {
    expect(await readFile(rootfs(`etc/${TRICKY_NAME}`), "utf8")).toBe("tricky\n");
    expect(await readFile(rootfs(`etc/${PRECOMPOSED_NAME}`), "utf8")).toBe("accent\n");
  });

  it("lists the accented name precomposed", async () => {
    const names = await readdir(rootfs("etc"));
    expect(names).toContain(PRECOMPOSED_NAME);
    expect(names).not.toContain(DECOMPOSED_NAME);
  });

  it("manifest.json holds the registry's bytes", async () => {
    const bytes = await readFile(mounted(`${APP_REPOSITORY}/_tags/v1/manifest.json`));
    const response = await fetch(`${fixture.registry.url}/v2/${APP_REPOSITORY}/manifests/v1`, {
      headers: { Accept: "application/vnd.oci.image.manifest.v1+json" },
    });
    expect(bytes.equals(Buffer.from(await response.arrayBuffer()))).toBe(true);
  });

  it("writes fail as read-only", async () => {
    const touch = await requireTool("touch");
    await expect(runCommand(touch, [rootfs("etc/new-file")])).rejects.toThrow(/Read-only/i);
  });
});
