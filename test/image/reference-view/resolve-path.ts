import type { DirectoryNode, TreeNode } from "./view-tree.js";

/** Linux's limit on symlinks followed in one path lookup (MAXSYMLINKS). */
export const MAX_SYMLINK_HOPS = 40;

export type PathResolution =
  | {
      status: "found";
      node: TreeNode;
      /** Canonical folders from the root down to the node's parent; empty for the root. */
      parents: DirectoryNode[];
    }
  | { status: "missing" }
  | { status: "loop" };

/**
 * Resolves a path inside the image the way the kernel resolves it inside a
 * chroot at the image root, so that no symlink leads outside the image.
 *
 * Why: symlink targets come from untrusted layers. An absolute target starts
 * again at the image root, `..` stops at the root, and after
 * MAX_SYMLINK_HOPS links the lookup gives up as a loop.
 *
 * @param start canonical folders from the root to the folder a relative path starts in
 * @param followFinal whether a symlink as the last component is followed too
 */
export function resolvePath(
  start: readonly DirectoryNode[],
  path: string,
  followFinal: boolean,
): PathResolution {
  const root = start[0];
  // An empty path names nothing, as on Linux (ENOENT).
  if (root === undefined || path === "") return { status: "missing" };
  const folders = path.startsWith("/") ? [root] : [...start];
  const pending = reversedComponents(path);
  let hops = 0;

  while (pending.length > 0) {
    const name = pending.pop()!;
    if (name === "..") {
      if (folders.length > 1) folders.pop();
      continue;
    }

    const child = folders[folders.length - 1]!.children.get(name);
    if (child === undefined) return { status: "missing" };
    const isLast = pending.length === 0;
    if (child.kind === "symlink" && (followFinal || !isLast)) {
      hops++;
      if (hops > MAX_SYMLINK_HOPS) return { status: "loop" };
      if (child.target === "") return { status: "missing" };
      if (child.target.startsWith("/")) folders.length = 1;
      pending.push(...reversedComponents(child.target));
      continue;
    }

    if (isLast) return { status: "found", node: child, parents: folders };
    if (child.kind !== "directory") return { status: "missing" };
    folders.push(child);
  }

  const node = folders.pop()!;
  return { status: "found", node, parents: folders };
}

/** Splits a path into components, last one first, dropping empty and `.` components. */
function reversedComponents(path: string): string[] {
  return path
    .split("/")
    .filter((name) => name !== "" && name !== ".")
    .reverse();
}
