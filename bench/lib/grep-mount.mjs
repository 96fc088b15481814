// `grep -r` through a FUSE mount: regdav's share and `rclone serve webdav`
// of the same files unpacked on disk, each mounted with `rclone mount`, so
// the only difference is the WebDAV server behind the mount.
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";

import { rootfsUrl } from "./first-cat.mjs";
import { runCommand, runShell, startServer } from "./process.mjs";
import { startRcloneWebdav } from "./rclone.mjs";
import { startRegdav } from "./regdav.mjs";
import { timedPropfind } from "./webdav-client.mjs";

/**
 * Starts a regdav that has indexed the image, an rclone server of the image
 * unpacked by umoci, and an `rclone mount` of each. Returns the two mount
 * folders and `stop()`.
 */
export async function startGrepMounts(ctx, image) {
  const dir = await mkdtemp(join(ctx.scratch, "grep-"));
  const stops = [];
  const stop = async () => {
    for (const step of stops.reverse()) await step().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const bundle = join(dir, "bundle");
    await runCommand("umoci", ["unpack", "--image", `${ctx.layout}:${image.layoutTag}`, bundle]);
    const regdav = await startRegdav(ctx.regdavRoot, ctx.scratch, ctx.registry.host);
    stops.push(regdav.stop);
    const regdavRoot = rootfsUrl(regdav, ctx.registry.host, image, "/");
    await timedPropfind(regdavRoot);
    const rclone = await startRcloneWebdav(join(bundle, "rootfs"), dir);
    stops.push(rclone.stop);

    const mounts = {};
    for (const [name, url] of [["regdav", regdavRoot], ["rclone", rclone.url + "/"]]) {
      const target = join(dir, `mount-${name}`);
      await mkdir(target);
      const mount = await startRcloneMount(url, target, join(dir, `cache-${name}`));
      stops.push(mount.stop);
      mounts[name] = target;
    }
    return { mounts, regdavOutput: regdav.output, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Mounts a WebDAV URL with `rclone mount`, without a file cache, and with
 * folder listings and attributes cached for the whole run, as a user who
 * browses a read-only share would set it.
 */
async function startRcloneMount(url, target, cacheDir) {
  const args = ["mount", ":webdav:", target, "--webdav-url", url, "--webdav-vendor", "other"];
  args.push("--read-only", "--vfs-cache-mode", "off", "--dir-cache-time", "1h", "--poll-interval", "0");
  args.push("--attr-timeout", "1h", "--config", "/dev/null", "--cache-dir", cacheDir, "--quiet");
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("RCLONE_")));
  const server = await startServer({
    name: "rclone mount",
    command: "rclone",
    args,
    env,
    isReady: async () => spawnSync("mountpoint", ["-q", target]).status === 0,
  });
  return {
    stop: async () => {
      spawnSync("fusermount3", ["-u", target]);
      await server.stop();
    },
  };
}

/**
 * Times `grep -r -l PATTERN FOLDER` in a mount and returns the time and the
 * sorted list of matching paths relative to the mount. Rejects when grep
 * reports an error.
 */
export async function timedGrep(mountDir, folder, pattern) {
  // grep exits 1 when nothing matches and 2 on an error such as EIO.
  const grep = `grep -r -l -- ${quote(pattern)} ${quote("." + folder)}`;
  const script = `cd ${quote(mountDir)} && { ${grep}; test $? -le 1; } | sort`;
  const { ms, stdout } = await runShell(script);
  return { ms, matches: stdout.toString("utf8") };
}

function quote(text) {
  return `'${text.replaceAll("'", "'\\''")}'`;
}
