import { createHash } from "node:crypto";
import { lstat, readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { makeImageConfig, makeLayer, type Platform } from "../harness/image-builder.js";
import { pushIndex } from "../harness/push.js";
import {
  unpackWithUmoci,
  walkTree,
  type TreeEntry,
  type UnpackedImage,
} from "../harness/oracle.js";
import { mountWithRclone, type RcloneMount } from "../harness/rclone-mount.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { makeTempDir, requireTool, runCommand, type TempDir } from "../harness/tools.js";
import { resolveInRoot } from "./chroot-resolve.js";
import {
  edgeRepository,
  pushEdgeImage,
  pushWhiteoutImage,
  whiteoutRepository,
} from "./edge-images.js";

const amd64: Platform = { os: "linux", architecture: "amd64" };
const arm64: Platform = { os: "linux", architecture: "arm64", variant: "v8" };

async function pushMultiPlatform(host: string): Promise<void> {
  const images = [];
  for (const platform of [amd64, arm64]) {
    const layer = await makeLayer([
      { type: "directory", path: "etc" },
      { type: "file", path: "etc/arch", content: `${platform.architecture}\n` },
      { type: "file", path: "etc/a.conf", content: "needle=1\n" },
      { type: "file", path: "etc/c.conf", content: "other=3\n" },
      { type: "directory", path: "etc/sub" },
      { type: "file", path: "etc/sub/b.conf", content: "needle=2\n" },
    ]);
    const config = makeImageConfig({ layers: [layer], platform });
    images.push({ platform, layers: [layer], config });
  }
  await pushIndex(host, "mount/multi", "latest", { images, format: "oci" });
  await pushIndex(host, "mount/multi", "stable", { images, format: "oci" });
}

async function sha256File(path: string): Promise<string> {
  return `sha256:${createHash("sha256").update(await readFile(path)).digest("hex")}`;
}

describe("mounted share", () => {
  let registry: TestRegistry;
  let regdav: RegdavProcess;
  let mountDir: TempDir;
  let mount: RcloneMount;

  const mounted = (path: string) => join(mountDir.path, registry.host, path);

  beforeAll(async () => {
    registry = await startRegistry();
    await pushMultiPlatform(registry.host);
    await pushEdgeImage(registry.host, "v1");
    await pushWhiteoutImage(registry.host, "v1");
    regdav = await startRegdav(["--registry", registry.host]);
    mountDir = await makeTempDir("mount");
    mount = await mountWithRclone(regdav.url, mountDir.path);
  });

  afterAll(async () => {
    await mount?.unmount();
    await mountDir?.remove();
    await regdav?.stop();
    await registry?.stop();
  });

  describe("shell commands", () => {
    it("ls lists the registry folder", async () => {
      const ls = await requireTool("ls");
      const { stdout } = await runCommand(ls, ["-1", mounted("")]);
      expect(stdout.toString().split("\n").filter(Boolean)).toEqual(["edge", "mount"]);
    });

    it("ls lists the tags", async () => {
      const ls = await requireTool("ls");
      const { stdout } = await runCommand(ls, ["-1", mounted("mount/multi/_tags")]);
      expect(stdout.toString().split("\n").filter(Boolean)).toEqual(["latest", "stable"]);
    });

    it("cat reads a multi-platform rootfs file", async () => {
      const cat = await requireTool("cat");
      const path = mounted("mount/multi/_tags/latest/rootfs/etc/arch");
      expect((await runCommand(cat, [path])).stdout.toString()).toBe("amd64\n");
    });

    it("cat reads a platform folder's file", async () => {
      const cat = await requireTool("cat");
      const path = mounted("mount/multi/_tags/latest/linux-arm64-v8/rootfs/etc/arch");
      expect((await runCommand(cat, [path])).stdout.toString()).toBe("arm64\n");
    });

    it("grep -r finds a string across a rootfs folder", async () => {
      const grep = await requireTool("grep");
      const rootfs = mounted("mount/multi/_tags/stable/rootfs");
      const { stdout } = await runCommand(grep, ["-r", "needle", "etc"], { cwd: rootfs });
      const lines = stdout.toString().split("\n").filter(Boolean).sort();
      expect(lines).toEqual(["etc/a.conf:needle=1", "etc/sub/b.conf:needle=2"]);
    });

    it("find ends on a rootfs with a link to a parent", async () => {
      const find = await requireTool("find");
      const rootfs = mounted(`${edgeRepository}/_tags/v1/rootfs`);
      const { stdout } = await runCommand(find, ["."], { cwd: rootfs, timeoutMs: 60_000 });
      const paths = stdout.toString().split("\n").filter(Boolean);
      expect(paths).toContain("./usr/share/up");
      expect(paths.filter((path) => path.startsWith("./usr/share/up/"))).toEqual([]);
      expect(paths).toContain("./usr/share/doc.txt");
    });

    it("grep -r ends on a rootfs with a link to a parent", async () => {
      const grep = await requireTool("grep");
      const rootfs = mounted(`${edgeRepository}/_tags/v1/rootfs`);
      const { stdout } = await runCommand(grep, ["-rl", "needle", "usr"], {
        cwd: rootfs,
        timeoutMs: 60_000,
      });
      expect(stdout.toString().split("\n").filter(Boolean)).toEqual(["usr/share/doc.txt"]);
    });
  });

  for (const repository of [edgeRepository, whiteoutRepository]) {
    describe(`umoci comparison of ${repository}`, () => {
      let unpacked: UnpackedImage;
      let oracle: TreeEntry[];
      const rootfs = (path: string) => join(mounted(`${repository}/_tags/v1/rootfs`), path);

      beforeAll(async () => {
        unpacked = await unpackWithUmoci(registry.host, repository, "v1");
        oracle = await walkTree(unpacked.rootfs);
      });

      afterAll(async () => {
        await unpacked?.remove();
      });

      it("umoci unpacked files", () => {
        expect(oracle.filter((entry) => entry.type === "file").length).toBeGreaterThan(3);
      });

      it("every umoci file has the same size and content", async () => {
        for (const entry of oracle.filter((item) => item.type === "file")) {
          const stats = await stat(rootfs(entry.path)).catch(() => undefined);
          expect(stats?.isFile(), entry.path).toBe(true);
          expect(stats?.size, entry.path).toBe(entry.size);
          expect(await sha256File(rootfs(entry.path)), entry.path).toBe(entry.sha256);
        }
      });

      it("every umoci folder exists", async () => {
        for (const entry of oracle.filter((item) => item.type === "directory")) {
          const stats = await stat(rootfs(entry.path)).catch(() => undefined);
          expect(stats?.isDirectory(), entry.path).toBe(true);
        }
      });

      it("umoci devices and fifos are left out", async () => {
        const special = ["fifo", "char-device", "block-device", "socket"];
        for (const entry of oracle.filter((item) => special.includes(item.type))) {
          const stats = await lstat(rootfs(entry.path)).catch(() => undefined);
          expect(stats, entry.path).toBeUndefined();
        }
      });

      it("umoci symlinks read as their targets", async () => {
        for (const entry of oracle.filter((item) => item.type === "symlink")) {
          const target = await resolveInRoot(unpacked.rootfs, entry.path);
          const stats = await stat(rootfs(entry.path)).catch(() => undefined);
          const label = `${entry.path} -> ${entry.target}`;

          if (target.kind === "file") {
            const expected = await sha256File(join(unpacked.rootfs, target.path));
            expect(stats?.isFile(), label).toBe(true);
            expect(await sha256File(rootfs(entry.path)), label).toBe(expected);
          } else if (target.kind === "directory") {
            expect(stats?.isDirectory(), label).toBe(true);
            const names = (await readdir(rootfs(entry.path))).sort();
            const expected = await visibleNames(unpacked.rootfs, entry.path, target.path);
            expect(names, label).toEqual(expected);
          } else {
            expect(stats, label).toBeUndefined();
          }
        }
      });

      // This walk also enters folder symlinks, so it checks paths that go
      // through a link, which the oracle's walk never lists.
      it("regdav shows only what umoci unpacked", async () => {
        const extra: string[] = [];
        const differing: string[] = [];
        const visit = async (relative: string, depth: number) => {
          for (const name of await readdir(rootfs(relative))) {
            const path = relative === "" ? name : `${relative}/${name}`;
            const inOracle = await resolveInRoot(unpacked.rootfs, path);
            const stats = await stat(rootfs(path));
            if (inOracle.kind === "file") {
              const expected = await sha256File(join(unpacked.rootfs, inOracle.path));
              if (!stats.isFile() || (await sha256File(rootfs(path))) !== expected) {
                differing.push(path);
              }
            } else if (inOracle.kind !== "directory" || !stats.isDirectory()) {
              extra.push(path);
            }
            if (stats.isDirectory() && depth < 10) await visit(path, depth + 1);
          }
        };
        await visit("", 0);
        expect(extra).toEqual([]);
        expect(differing).toEqual([]);
      });
    });
  }
});

/**
 * Returns the names regdav should list for a folder symlink: none when the
 * link points at a folder it is inside of, else the target's children that
 * resolve to a file or a folder.
 */
async function visibleNames(root: string, linkPath: string, targetPath: string): Promise<string[]> {
  const linkParent = linkPath.split("/").slice(0, -1).join("/");
  const isAncestor =
    targetPath === "" || linkParent === targetPath || linkParent.startsWith(`${targetPath}/`);
  if (isAncestor) return [];

  const names: string[] = [];
  for (const name of await readdir(join(root, targetPath))) {
    const child = await resolveInRoot(root, `${targetPath}/${name}`);
    if (child.kind === "file" || child.kind === "directory") names.push(name);
  }
  return names.sort();
}
