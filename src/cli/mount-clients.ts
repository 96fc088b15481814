import { spawn, type ChildProcess } from "node:child_process";
import { constants } from "node:fs";
import { access, chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { constants as osConstants, tmpdir } from "node:os";
import { delimiter, join } from "node:path";

import { log } from "../log.js";

/** The share's URL and what a client needs to connect to it. */
export interface ShareAddress {
  /** `http://127.0.0.1:PORT/` or `https://...`. */
  url: string;
  credentials?: { username: string; password: string };
  /** The PEM certificate the share serves, for a client to trust. */
  tlsCertFile?: string;
}

/** A mounted share; `unmount` resolves once the folder is no longer a mount point. */
export interface MountedShare {
  readonly client: MountClientName;
  /** Resolves with the client's exit code when the mount ends by itself, such as by `umount`. */
  readonly ended: Promise<number>;
  unmount(): Promise<void>;
}

export type MountClientName = "rclone" | "davfs2";

/** How long a client may take to mount or unmount, in ms. */
const MOUNT_TIMEOUT_MS = 30_000;

/** Returns the absolute path of a program on PATH, or undefined. */
export async function findProgram(name: string): Promise<string | undefined> {
  for (const folder of (process.env.PATH ?? "").split(delimiter)) {
    if (folder === "") continue;
    const candidate = join(folder, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this folder.
    }
  }
  return undefined;
}

/**
 * Mounts with `rclone mount`, which keeps running in the foreground until
 * SIGTERM, when it unmounts. The password reaches rclone obscured, in its
 * environment, so it never appears in the process list.
 */
export async function mountWithRclone(
  rclone: string,
  share: ShareAddress,
  target: string,
): Promise<MountedShare> {
  const env = { ...process.env };
  if (share.credentials) {
    env.RCLONE_WEBDAV_USER = share.credentials.username;
    env.RCLONE_WEBDAV_PASS = await obscure(rclone, share.credentials.password);
  }
  const args = ["mount", ":webdav:", target, "--webdav-url", share.url, "--webdav-vendor", "other"];
  args.push("--read-only", "--config", "/dev/null");
  if (share.tlsCertFile) args.push("--ca-cert", share.tlsCertFile);

  const child = spawn(rclone, args, { env, stdio: ["ignore", "inherit", "inherit"] });
  const ended = exitOf(child);
  await waitForMount(target, ended, "rclone mount");
  return {
    client: "rclone",
    ended,
    unmount: async () => {
      child.kill("SIGTERM");
      await Promise.race([ended, delay(MOUNT_TIMEOUT_MS)]);
      if (!(await isMountPoint(target))) return;
      // rclone did not unmount in time, for example because a file is open: detach lazily.
      log.warn("rclone left the folder mounted; detaching it with fusermount3", { folder: target });
      await runProgram("fusermount3", ["-u", "-z", target]);
    },
  };
}

/**
 * Mounts with davfs2 (`mount -t davfs -o ro,conf=FILE`), which needs root.
 * The configuration turns off LOCK, which the share rejects, and sets
 * `buf_size 64`, because without it davfs2 1.6.1 fails every directory
 * read with EINVAL on Linux 6.18 (seen here, and reported for 1.7.1 on
 * 6.16 and later). Credentials go in a secrets file only root can read,
 * deleted with the configuration.
 */
export async function mountWithDavfs2(share: ShareAddress, target: string): Promise<MountedShare> {
  if (process.getuid?.() !== 0) {
    throw new Error("davfs2 mounts need root: run regdav mount as root, or install rclone");
  }
  const folder = await mkdtemp(join(tmpdir(), "regdav-davfs2-"));
  try {
    const config = await writeDavfsConfig(folder, share);
    await runProgram("mount", ["-t", "davfs", "-o", `ro,conf=${config}`, share.url, target]);
  } catch (error) {
    await rm(folder, { recursive: true, force: true });
    throw error;
  }

  const ended = pollUntilUnmounted(target);
  return {
    client: "davfs2",
    ended,
    unmount: async () => {
      try {
        if (await isMountPoint(target)) await runProgram("umount", [target]);
      } finally {
        await rm(folder, { recursive: true, force: true });
      }
    },
  };
}

async function writeDavfsConfig(folder: string, share: ShareAddress): Promise<string> {
  const lines = ["use_locks 0", "ask_auth 0", "buf_size 64"];
  if (share.credentials) {
    const secrets = join(folder, "secrets");
    const { username, password } = share.credentials;
    await writeFile(secrets, `${share.url} ${quoteDavfs(username)} ${quoteDavfs(password)}\n`, {
      mode: 0o600,
    });
    lines.push(`secrets ${secrets}`);
  }
  if (share.tlsCertFile) lines.push(`trust_server_cert ${share.tlsCertFile}`);
  const cache = await makeDavfsCache(folder);
  if (cache) lines.push(`cache_dir ${cache}`);

  const config = join(folder, "davfs2.conf");
  await writeFile(config, lines.join("\n") + "\n", { mode: 0o600 });
  return config;
}

/**
 * Makes a cache folder inside `folder`, deleted with it, so that mounts
 * leave nothing in /var/cache/davfs2. mount.davfs accepts only a cache
 * folder owned by the mounting user and the davfs2 group, and its daemon
 * runs as the davfs2 user, which must be able to enter `folder`. Returns
 * undefined when the davfs2 group does not exist, which leaves davfs2 its
 * default cache folder.
 */
async function makeDavfsCache(folder: string): Promise<string | undefined> {
  const groups = await readFile("/etc/group", "utf8").catch(() => "");
  const entry = groups.split("\n").find((line) => line.startsWith("davfs2:"));
  const groupId = Number(entry?.split(":")[2]);
  if (!Number.isInteger(groupId)) return undefined;

  // The secrets and configuration files stay readable by root alone (0600).
  await chmod(folder, 0o755);
  const cache = join(folder, "cache");
  await mkdir(cache, { mode: 0o775 });
  await chown(cache, 0, groupId);
  await chmod(cache, 0o775);
  return cache;
}

/** Quotes a secrets-file field: davfs2 reads `"..."` with `\"` and `\\` escapes. */
function quoteDavfs(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

async function obscure(rclone: string, password: string): Promise<string> {
  // "-" makes rclone obscure read the password from stdin, out of the process list.
  const child = spawn(rclone, ["obscure", "-", "--config", "/dev/null"], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stdin.end(password);
  const code = await exitOf(child);
  if (code !== 0) throw new Error(`rclone obscure failed with exit code ${code}`);
  return output.trim();
}

/** Runs a program to its end, with its output passed through; throws on a non-zero exit. */
async function runProgram(command: string, args: readonly string[]): Promise<void> {
  const child = spawn(command, args, { stdio: ["ignore", "inherit", "inherit"] });
  const code = await exitOf(child);
  if (code !== 0) throw new Error(`${command} ${args.join(" ")} failed with exit code ${code}`);
}

/** Resolves with the exit code, 128 + signal number for a signal, or 127 when it cannot start. */
function exitOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once("error", (error) => {
      log.error("could not start a program", { program: child.spawnfile, error: error.message });
      resolve(127);
    });
    child.once("exit", (code, signal) =>
      resolve(code ?? (signal ? 128 + signalNumber(signal) : 1)),
    );
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  return osConstants.signals[signal] ?? 0;
}

async function waitForMount(target: string, ended: Promise<number>, name: string): Promise<void> {
  let exitCode: number | undefined;
  void ended.then((code) => (exitCode = code));
  const deadline = Date.now() + MOUNT_TIMEOUT_MS;
  while (!(await isMountPoint(target))) {
    if (exitCode !== undefined)
      throw new Error(`${name} exited with code ${exitCode} before mounting`);
    if (Date.now() > deadline)
      throw new Error(`${name} did not mount ${target} within ${MOUNT_TIMEOUT_MS} ms`);
    await delay(100);
  }
}

/** Resolves with 0 once `target` is no longer mounted, checked every second. */
async function pollUntilUnmounted(target: string): Promise<number> {
  while (await isMountPoint(target)) await delay(1000);
  return 0;
}

/** Tests whether /proc/mounts lists `target`, an absolute path without symlinks. */
export async function isMountPoint(target: string): Promise<boolean> {
  const mounts = await readFile("/proc/mounts", "utf8");
  // /proc/mounts writes space, tab, newline and backslash in paths as octal escapes.
  const unescape = (field: string) =>
    field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  return mounts.split("\n").some((line) => unescape(line.split(" ")[1] ?? "") === target);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
