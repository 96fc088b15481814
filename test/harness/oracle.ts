import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";

import type { Platform } from "./image-builder.js";
import type { Credentials } from "./registry.js";
import { credsArgument, runSkopeo } from "./skopeo.js";
import { makeTempDir, requireTool, runCommand } from "./tools.js";

/*
 * The reference file tree of an image: skopeo pulls the image into an OCI
 * layout, and umoci applies its layers, whiteouts included, to a real folder.
 * Tests compare regdav's view of the image against that folder.
 */

export interface UnpackedImage {
  /** The image's root filesystem. */
  rootfs: string;
  /** The umoci bundle folder that contains `rootfs`. */
  bundleDir: string;
  /** Deletes the layout and the bundle. */
  remove(): Promise<void>;
}

export interface UnpackOptions {
  credentials?: Credentials;
}

/**
 * Pulls `host/repository:tag` and unpacks it with umoci. For an index, the
 * platform defaults to this machine's, as skopeo picks it; pass `platform` to
 * choose another. Runs umoci with `--rootless` unless this process is root,
 * so file owners are only kept when running as root.
 */
export async function unpackWithUmoci(
  host: string,
  repository: string,
  tag: string,
  platform?: Platform,
  options: UnpackOptions = {},
): Promise<UnpackedImage> {
  const umoci = await requireTool("umoci");
  const workDir = await makeTempDir("unpack");
  const layoutDir = join(workDir.path, "layout");
  const bundleDir = join(workDir.path, "bundle");

  try {
    const globalArgs: string[] = [];
    if (platform) {
      globalArgs.push("--override-os", platform.os, "--override-arch", platform.architecture);
      if (platform.variant !== undefined) globalArgs.push("--override-variant", platform.variant);
    }
    // umoci 0.4.7 rejects zstd layers, so skopeo recompresses them with gzip.
    const copyArgs = ["--quiet", "--src-tls-verify=false", "--dest-compress-format", "gzip"];
    if (options.credentials) copyArgs.push("--src-creds", credsArgument(options.credentials));
    copyArgs.push(`docker://${host}/${repository}:${tag}`, `oci:${layoutDir}:${tag}`);
    await runSkopeo(globalArgs, "copy", copyArgs);

    const unpackArgs = ["unpack", "--image", `${layoutDir}:${tag}`, bundleDir];
    if (process.getuid?.() !== 0) unpackArgs.splice(1, 0, "--rootless");
    await runCommand(umoci, unpackArgs, { timeoutMs: 300_000 });
  } catch (error) {
    await workDir.remove();
    throw error;
  }

  return { rootfs: join(bundleDir, "rootfs"), bundleDir, remove: workDir.remove };
}

export interface TreeEntry {
  /** Relative to the walked folder, with `/` separators and no leading `./`. */
  path: string;
  type: "file" | "directory" | "symlink" | "fifo" | "char-device" | "block-device" | "socket";
  /** Bytes: the content length of a file, the target length of a symlink, as lstat reports. */
  size: number;
  /** Permission bits, including setuid, setgid and sticky. */
  mode: number;
  /** Hard-link count (st_nlink); above 1 for files that are hard links of each other. */
  links: number;
  /** `sha256:<hex>` of a regular file's content. */
  sha256?: string;
  /** A symlink's target, as stored; symlinks are never followed. */
  target?: string;
}

/** Lists everything below `root` (not `root` itself), sorted by path. */
export async function walkTree(root: string): Promise<TreeEntry[]> {
  const entries: TreeEntry[] = [];
  await walkInto(root, "", entries);
  // Paths are unique, so no two entries compare equal. Sorting is by UTF-16 code units, not locale.
  return entries.sort((a, b) => (a.path < b.path ? -1 : 1));
}

async function walkInto(root: string, relative: string, entries: TreeEntry[]): Promise<void> {
  const names = await readdir(join(root, relative));
  for (const name of names) {
    const path = relative === "" ? name : `${relative}/${name}`;
    const absolute = join(root, path);
    const stats = await lstat(absolute);
    const entry: TreeEntry = {
      path,
      type: fileType(stats),
      size: stats.size,
      mode: stats.mode & 0o7777,
      links: stats.nlink,
    };
    if (entry.type === "file") entry.sha256 = await hashFile(absolute);
    if (entry.type === "symlink") entry.target = await readlink(absolute);
    entries.push(entry);
    if (entry.type === "directory") await walkInto(root, path, entries);
  }
}

function fileType(stats: Awaited<ReturnType<typeof lstat>>): TreeEntry["type"] {
  if (stats.isFile()) return "file";
  if (stats.isDirectory()) return "directory";
  if (stats.isSymbolicLink()) return "symlink";
  if (stats.isFIFO()) return "fifo";
  if (stats.isCharacterDevice()) return "char-device";
  if (stats.isBlockDevice()) return "block-device";
  return "socket";
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest("hex")}`;
}
