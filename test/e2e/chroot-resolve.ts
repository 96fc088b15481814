import { lstat, readlink } from "node:fs/promises";
import { join } from "node:path";

/** Linux follows at most 40 symlinks in one path lookup (MAXSYMLINKS). */
const maxSymlinkHops = 40;

export type Resolution =
  | { kind: "file" | "directory"; /** Relative to the root, without symlinks. */ path: string }
  | { kind: "missing" | "loop" | "other" };

/**
 * Resolves `path` (relative to `root`) on the real file system as the
 * kernel does inside a chroot at `root`: absolute link targets start again
 * at `root`, `..` stops there, and every symlink is followed, the last one
 * too, so that a test reads an unpacked image as processes in the container do.
 */
export async function resolveInRoot(root: string, path: string): Promise<Resolution> {
  const resolved: string[] = [];
  const pending = components(path).reverse();
  let hops = 0;

  while (pending.length > 0) {
    const name = pending.pop()!;
    if (name === "..") {
      resolved.pop();
      continue;
    }

    const stats = await lstat(join(root, ...resolved, name)).catch(() => undefined);
    if (stats === undefined) return { kind: "missing" };
    if (stats.isSymbolicLink()) {
      hops++;
      if (hops > maxSymlinkHops) return { kind: "loop" };
      const target = await readlink(join(root, ...resolved, name));
      if (target.startsWith("/")) resolved.length = 0;
      pending.push(...components(target).reverse());
      continue;
    }

    resolved.push(name);
    if (pending.length > 0 && !stats.isDirectory()) return { kind: "missing" };
  }

  const stats = await lstat(join(root, ...resolved));
  const relative = resolved.join("/");
  if (stats.isFile()) return { kind: "file", path: relative };
  if (stats.isDirectory()) return { kind: "directory", path: relative };
  return { kind: "other" };
}

function components(path: string): string[] {
  return path.split("/").filter((name) => name !== "" && name !== ".");
}
