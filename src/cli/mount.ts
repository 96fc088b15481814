import { readFile, realpath, stat } from "node:fs/promises";
import type { Server } from "node:http";
import { isIP } from "node:net";

import { log } from "../log.js";
import type { Command } from "./commands/command.js";
import {
  findProgram,
  isMountPoint,
  mountWithDavfs2,
  mountWithRclone,
  type MountClientName,
  type MountedShare,
  type ShareAddress,
} from "./mount-clients.js";
import { serve } from "./serve.js";
import { parseServeOptions, type ServeOptions } from "./serve-options.js";
import { UsageError } from "./usage-error.js";

export const MOUNT_HELP = `Usage: regdav mount DIR [--with rclone|davfs2] [serve options]

Serves the share and mounts it read-only on the folder DIR, with rclone
mount where rclone is installed, else with davfs2 (as root). Ctrl-C, SIGTERM
or unmounting DIR stops it. Without a client it prints the command to mount
the share by hand and keeps serving.

Options:
  --with CLIENT    use this client: rclone or davfs2
  --listen HOST:PORT
                   address of the share (default: a free port on 127.0.0.1)
  Every other option of regdav serve applies (regdav serve --help).
`;

export const mountCommand: Command = {
  summary: "serve the share and mount it on a folder (regdav mount --help)",
  run: runMount,
};

interface MountArguments {
  folder: string;
  client?: MountClientName;
  serveArgs: string[];
}

async function runMount(args: string[]): Promise<number | undefined> {
  if (args.includes("-h") || args.includes("--help")) {
    process.stdout.write(MOUNT_HELP);
    return 0;
  }
  const parsed = parseMountArguments(args);
  const target = await checkMountFolder(parsed.folder);
  const options = parseServeOptions(parsed.serveArgs);

  const server = await serve(options);
  const share = await shareAddress(server, options);
  let mounted: MountedShare | undefined;
  try {
    mounted = await mountShare(parsed.client, share, target);
  } catch (error) {
    server.close();
    throw error;
  }
  stopOnSignalsOrUnmount(server, mounted, target);
  keepServingAfterStrayErrors();
  if (mounted) {
    log.info("mounted the share", { url: share.url, folder: target, client: mounted.client });
  }
  return undefined;
}

/**
 * Logs an error that escaped every request handler and keeps serving, as
 * `regdav serve` does, because ending the process would leave DIR mounted on
 * a share that no longer responds.
 */
function keepServingAfterStrayErrors(): void {
  const report = (error: unknown) =>
    log.error("unexpected error outside a request, still serving", {
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
  process.on("uncaughtException", report);
  process.on("unhandledRejection", report);
}

/** Splits DIR and `--with` from the serve options; without `--listen`, a free loopback port. */
export function parseMountArguments(args: readonly string[]): MountArguments {
  const rest = [...args];
  const folder = rest.shift();
  if (folder === undefined || folder.startsWith("-")) {
    throw new UsageError("regdav mount needs a folder to mount on: regdav mount DIR [options]");
  }

  let client: MountClientName | undefined;
  const withIndex = rest.findIndex((arg) => arg === "--with" || arg.startsWith("--with="));
  if (withIndex !== -1) {
    const [flag] = rest.splice(withIndex, 1);
    const value = flag!.includes("=")
      ? flag!.slice("--with=".length)
      : rest.splice(withIndex, 1)[0];
    if (value !== "rclone" && value !== "davfs2") {
      throw new UsageError(`invalid --with ${JSON.stringify(value ?? "")}: use rclone or davfs2`);
    }
    client = value;
  }

  const hasListen = rest.some((arg) => arg === "--listen" || arg.startsWith("--listen="));
  const serveArgs = hasListen ? rest : ["--listen", "127.0.0.1:0", ...rest];
  return { folder, ...(client ? { client } : {}), serveArgs };
}

async function checkMountFolder(folder: string): Promise<string> {
  const info = await stat(folder).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new UsageError(
      `mount folder ${JSON.stringify(folder)} does not exist or is not a folder`,
    );
  }
  const target = await realpath(folder);
  // Mounting over an existing mount would fail, and the clean-up after the
  // failure would then detach the mount that was there before.
  if (await isMountPoint(target)) {
    throw new UsageError(`mount folder ${JSON.stringify(folder)} is already a mount point; unmount it first`);
  }
  return target;
}

/** Picks the client: the one asked for, else rclone where installed, else davfs2 as root. */
async function mountShare(
  requested: MountClientName | undefined,
  share: ShareAddress,
  target: string,
): Promise<MountedShare | undefined> {
  const rclone = requested === "davfs2" ? undefined : await findProgram("rclone");
  if (rclone) return mountWithRclone(rclone, share, target);
  if (requested === "rclone") throw new Error("rclone was not found on PATH: install rclone");

  const davfs = await findProgram("mount.davfs");
  if (davfs && (requested === "davfs2" || process.getuid?.() === 0)) {
    return mountWithDavfs2(share, target);
  }
  if (requested === "davfs2") throw new Error("mount.davfs was not found on PATH: install davfs2");

  printManualCommands(share, target);
  return undefined;
}

function printManualCommands(share: ShareAddress, target: string): void {
  const folder = JSON.stringify(target);
  process.stderr.write(
    "regdav: found neither rclone nor davfs2 (as root) to mount the share; " +
      `it is served at ${share.url}\n` +
      "Mount it by hand with one of:\n" +
      `  rclone mount :webdav: ${folder} --webdav-url ${share.url} --read-only\n` +
      `  sudo mount -t davfs -o ro ${share.url} ${folder}\n` +
      "    (with use_locks 0 and buf_size 64 in /etc/davfs2/davfs2.conf)\n" +
      "Press Ctrl-C to stop serving.\n",
  );
}

async function shareAddress(server: Server, options: ServeOptions): Promise<ShareAddress> {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.listen.port;
  const host = connectableHost(options.listen.host);
  const scheme = options.tlsCert ? "https" : "http";
  const share: ShareAddress = { url: `${scheme}://${host}:${port}/` };
  if (options.tlsCert) share.tlsCertFile = options.tlsCert;
  if (options.davUser)
    share.credentials = { username: options.davUser, password: await readPassword(options) };
  return share;
}

/** Returns the host a client connects to: loopback for all interfaces, IPv6 in brackets. */
function connectableHost(host: string): string {
  if (host === "0.0.0.0" || host === "") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return isIP(host) === 6 ? `[${host}]` : host;
}

/** Reads the share password as serve does: from --dav-password-file, else REGDAV_DAV_PASSWORD. */
async function readPassword(options: ServeOptions): Promise<string> {
  if (options.davPasswordFile)
    return (await readFile(options.davPasswordFile, "utf8")).replace(/\r?\n$/, "");
  return process.env.REGDAV_DAV_PASSWORD ?? "";
}

/**
 * Unmounts and stops on SIGINT or SIGTERM, and stops when the mount ends by
 * itself, such as after `umount DIR`. Only one stop runs.
 */
function stopOnSignalsOrUnmount(
  server: Server,
  mounted: MountedShare | undefined,
  target: string,
): void {
  let stopping = false;
  const stop = async (reason: string, exitCode: number) => {
    if (stopping) return;
    stopping = true;
    log.info("regdav mount stopping", { reason, folder: target });
    try {
      await mounted?.unmount();
    } catch (error) {
      log.error("could not unmount the share", { folder: target, error: (error as Error).message });
      exitCode = 1;
    }
    server.close(() => process.exit(exitCode));
    server.closeAllConnections();
    setTimeout(() => process.exit(exitCode), 5000).unref();
  };

  process.once("SIGINT", () => void stop("SIGINT", 0));
  process.once("SIGTERM", () => void stop("SIGTERM", 0));
  void mounted?.ended.then((code) =>
    stop(`${mounted.client} ended with exit code ${code}`, code === 0 ? 0 : 1),
  );
}
