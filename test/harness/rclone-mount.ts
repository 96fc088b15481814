import { constants } from "node:fs";
import { access, readFile, realpath } from "node:fs/promises";

import type { Credentials } from "./registry.js";
import { respondsToHttp, startService, type Service } from "./service.js";
import {
  makeTempDir,
  requireTool,
  retryOnPortInUse,
  runCommand,
  waitUntil,
  type TempDir,
} from "./tools.js";

export interface MountOptions {
  /** How long rclone trusts a folder listing (`--dir-cache-time`); default "1s". */
  dirCacheTime?: string;
  /** How long the kernel caches file attributes (`--attr-timeout`); default "1s". */
  attrTimeout?: string;
  /** Basic-auth user for the WebDAV server. */
  credentials?: Credentials;
  /** More rclone flags, appended last. */
  extraArgs?: readonly string[];
}

export interface RcloneMount {
  /** The mounted folder, as given. */
  readonly mountDir: string;
  /** rclone's log output so far. */
  output(): string;
  /** Unmounts with fusermount, stops rclone and deletes its cache folder. */
  unmount(): Promise<void>;
}

/**
 * Mounts a WebDAV URL read-only at `mountDir` (an existing empty folder) with
 * `rclone mount`, using no rclone configuration file. Resolves once the
 * kernel lists the mount. rclone 1.60 needs /dev/fuse and fusermount3 (or
 * fusermount) for this.
 */
export async function mountWithRclone(
  url: string,
  mountDir: string,
  options: MountOptions = {},
): Promise<RcloneMount> {
  const rclone = await requireTool("rclone");
  await requireFuse();
  const target = await realpath(mountDir);
  const cacheDir = await makeTempDir("rclone-cache");

  try {
    const env = await rcloneEnvironment(rclone, options.credentials);
    const service = await startService({
      name: "rclone mount",
      command: rclone,
      args: mountArgs(url, target, cacheDir.path, options),
      env,
      isReady: () => isMountPoint(target),
    });
    return makeMountHandle(mountDir, target, service, cacheDir);
  } catch (error) {
    await cacheDir.remove();
    throw error;
  }
}

function mountArgs(url: string, target: string, cacheDir: string, options: MountOptions): string[] {
  return [
    "mount",
    ":webdav:",
    target,
    "--webdav-url",
    url,
    "--webdav-vendor",
    "other",
    "--read-only",
    "--vfs-cache-mode",
    "off",
    "--dir-cache-time",
    options.dirCacheTime ?? "1s",
    // rclone cannot poll WebDAV for changes, and a poll interval must be below dir-cache-time.
    "--poll-interval",
    "0",
    "--attr-timeout",
    options.attrTimeout ?? "1s",
    // rclone documents /dev/null as "keep the configuration in memory only".
    "--config",
    "/dev/null",
    "--cache-dir",
    cacheDir,
    ...(options.extraArgs ?? []),
  ];
}

function makeMountHandle(
  mountDir: string,
  target: string,
  service: Service,
  cacheDir: TempDir,
): RcloneMount {
  return {
    mountDir,
    output: () => service.output(),
    unmount: async () => {
      try {
        await fuseUnmount(target);
      } finally {
        await service.stop();
        await cacheDir.remove();
      }
    },
  };
}

/** Throws a clear error when the FUSE device is missing, as in containers started without it. */
async function requireFuse(): Promise<void> {
  try {
    await access("/dev/fuse", constants.R_OK | constants.W_OK);
  } catch {
    throw new Error(
      "/dev/fuse is missing or not accessible, so rclone cannot mount: load the fuse kernel " +
        "module (modprobe fuse) or give the container the device (--device /dev/fuse)",
    );
  }
}

/** Unmounts with fusermount3 (or fusermount), lazily when the plain unmount fails. */
async function fuseUnmount(target: string): Promise<void> {
  if (!(await isMountPoint(target))) return;
  const fusermount = await requireTool("fusermount3").catch(() => requireTool("fusermount"));
  try {
    await runCommand(fusermount, ["-u", target], { timeoutMs: 30_000 });
  } catch {
    // Busy, for example a test left a file open: detach now, the kernel finishes later.
    await runCommand(fusermount, ["-u", "-z", target], { timeoutMs: 30_000 });
  }
  await waitUntil(`${target} to be unmounted`, async () => !(await isMountPoint(target)), {
    timeoutMs: 10_000,
  });
}

/** Returns true when /proc/mounts lists `target`, an absolute path without symlinks, as mounted. */
export async function isMountPoint(target: string): Promise<boolean> {
  const mounts = await readFile("/proc/mounts", "utf8");
  return mounts.split("\n").some((line) => unescapeMountPath(line.split(" ")[1] ?? "") === target);
}

/** /proc/mounts writes space, tab, newline and backslash in paths as octal escapes. */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(parseInt(octal, 8)),
  );
}

/**
 * Returns this process's environment without RCLONE_* variables, which rclone
 * reads as flags, plus the WebDAV user when one is given. The password goes
 * through `rclone obscure`, because rclone expects it obscured.
 */
async function rcloneEnvironment(
  rclone: string,
  credentials?: Credentials,
): Promise<NodeJS.ProcessEnv> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("RCLONE_")) env[key] = value;
  }
  if (credentials) {
    // "-" makes rclone obscure read the password from stdin, keeping it out of the process list.
    const { stdout } = await runCommand(rclone, ["obscure", "-", "--config", "/dev/null"], {
      input: credentials.password,
      env,
    });
    env.RCLONE_WEBDAV_USER = credentials.username;
    env.RCLONE_WEBDAV_PASS = stdout.toString("utf8").trim();
  }
  return env;
}

export interface RcloneWebdavServer {
  /** `http://127.0.0.1:PORT/`. */
  readonly url: string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Serves a local folder read-only over WebDAV on a free loopback port with
 * `rclone serve webdav`: a reference WebDAV server for tests of the mount
 * helper or for comparisons with regdav. With `credentials`, it requires
 * HTTP basic auth.
 */
export async function serveFolderWithRclone(
  folder: string,
  options: { credentials?: Credentials } = {},
): Promise<RcloneWebdavServer> {
  const rclone = await requireTool("rclone");
  const env = await rcloneEnvironment(rclone);
  if (options.credentials) {
    // rclone also reads each flag from RCLONE_<FLAG>, which keeps the password out of `ps`.
    env.RCLONE_USER = options.credentials.username;
    env.RCLONE_PASS = options.credentials.password;
  }

  return retryOnPortInUse(async (port) => {
    const url = `http://127.0.0.1:${port}/`;
    const args = ["serve", "webdav", folder, "--addr", `127.0.0.1:${port}`, "--read-only"];
    const service = await startService({
      name: "rclone serve webdav",
      command: rclone,
      args: [...args, "--config", "/dev/null"],
      env,
      isReady: () => respondsToHttp(url, "OPTIONS"),
    });
    return { url, output: () => service.output(), stop: () => service.stop() };
  });
}
