import { chmod, chown, mkdir, readFile, realpath, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { isMountPoint } from "../harness/rclone-mount.js";
import { makeTempDir, requireTool, runCommand, waitUntil, type TempDir } from "../harness/tools.js";

export interface DavfsMount {
  readonly mountDir: string;
  /** Unmounts with umount, which waits for mount.davfs to end, and deletes the configuration. */
  unmount(): Promise<void>;
}

/**
 * Mounts a WebDAV URL read-only with davfs2 (`mount -t davfs -o ro,conf=FILE`),
 * as root, with a configuration file of its own and a fresh cache folder.
 * davfs2 1.6.1 needs /dev/fuse and the davfs2 group that its package creates.
 */
export async function mountWithDavfs2(url: string, mountDir: string): Promise<DavfsMount> {
  const mount = await requireTool("mount");
  await requireTool("mount.davfs");
  const target = await realpath(mountDir);
  const work = await makeTempDir("davfs2");

  try {
    const config = await writeDavfsConfig(work);
    // Standard input is closed, so davfs2 cannot stop to ask for credentials.
    await runCommand(mount, ["-t", "davfs", "-o", `ro,conf=${config}`, url, target], {
      timeoutMs: 60_000,
    });
    await waitUntil(`davfs2 to mount ${target}`, () => isMountPoint(target), { timeoutMs: 10_000 });
  } catch (error) {
    await work.remove();
    throw error;
  }
  return { mountDir, unmount: () => unmountDavfs(target, work) };
}

/**
 * Writes the configuration: no LOCK requests, which the read-only share
 * rejects, and no credentials prompt. `buf_size 64` works around davfs2
 * 1.6.1 failing every directory read with EINVAL on this machine's Linux
 * 6.18. The cache folder must belong to the mounting user and the davfs2
 * group, or mount.davfs rejects it.
 */
async function writeDavfsConfig(work: TempDir): Promise<string> {
  // mkdtemp makes the folder 0700, which the davfs2 user cannot enter to reach its cache.
  await chmod(work.path, 0o755);
  const cache = join(work.path, "cache");
  await mkdir(cache);
  await chown(cache, process.getuid?.() ?? 0, await davfsGroupId());
  await chmod(cache, 0o775);

  const config = join(work.path, "davfs2.conf");
  const lines = ["use_locks 0", "ask_auth 0", "buf_size 64", `cache_dir ${cache}`];
  await writeFile(config, lines.join("\n") + "\n");
  return config;
}

/** Returns the id of the davfs2 group, which the davfs2 package creates. */
async function davfsGroupId(): Promise<number> {
  const groups = await readFile("/etc/group", "utf8");
  const line = groups.split("\n").find((entry) => entry.startsWith("davfs2:"));
  const id = Number(line?.split(":")[2]);
  if (!Number.isInteger(id)) {
    throw new Error("group davfs2 not found in /etc/group: reinstall the davfs2 package");
  }
  return id;
}

async function unmountDavfs(target: string, work: TempDir): Promise<void> {
  try {
    if (await isMountPoint(target)) {
      await runCommand(await requireTool("umount"), [target], { timeoutMs: 60_000 });
    }
  } finally {
    await work.remove();
  }
}
