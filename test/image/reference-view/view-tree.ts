/**
 * The in-memory folder tree behind a filesystem view. Each folder maps child
 * names to nodes, so lookups cost one map access per path segment even in
 * folders with many thousands of entries. A node does not store its own
 * name, so a hardlinked file can be one node under two names.
 */

/** Location of a file's bytes: a range of one layer's uncompressed tar. */
export interface ContentLocation {
  /** Position of the layer in the image's layer list, the base layer being 0. */
  readonly layerIndex: number;
  /** Offset of the first byte in that layer's uncompressed tar stream. */
  readonly dataOffset: number;
  readonly size: number;
}

interface NodeMetadata {
  /** Mode bits as in the tar header. */
  mode: number;
  /** Milliseconds since the epoch. */
  modified: number;
}

export interface DirectoryNode extends NodeMetadata {
  readonly kind: "directory";
  readonly children: Map<string, TreeNode>;
}

export interface FileNode extends NodeMetadata {
  readonly kind: "file";
  readonly content: ContentLocation;
}

export interface SymlinkNode extends NodeMetadata {
  readonly kind: "symlink";
  /** The target as written in the tar, resolved only when the view is read. */
  readonly target: string;
}

/**
 * A hardlink that stays in the tree while its layer is applied, placed at its
 * position in the tar, until the end of the layer resolves or drops it.
 * Deliberate change from the frozen copy (see apply-layer.ts).
 */
export interface PendingLinkNode extends NodeMetadata {
  readonly kind: "pending";
  readonly target: string;
}

export type TreeNode = DirectoryNode | FileNode | SymlinkNode | PendingLinkNode;

/** Mode of folders that no tar entry describes, such as `a` for a layer with only `a/b`. */
export const IMPLICIT_DIRECTORY_MODE = 0o755;

export function createDirectory(mode: number, modified: number): DirectoryNode {
  return { kind: "directory", mode, modified, children: new Map() };
}

/** Counts the names in a tree: every child of every folder, the root not included. */
export function countEntries(root: DirectoryNode): number {
  let count = 0;
  const folders: DirectoryNode[] = [root];
  for (let folder = folders.pop(); folder !== undefined; folder = folders.pop()) {
    count += folder.children.size;
    for (const child of folder.children.values()) {
      if (child.kind === "directory") folders.push(child);
    }
  }
  return count;
}

/** Splits a normalized path (`""` is the root) into segments. */
export function splitPath(path: string): string[] {
  return path === "" ? [] : path.split("/");
}

/**
 * Returns the folder at `segments`, creating missing folders on the way with
 * `modified` as their time. A file or symlink in the way is replaced by a
 * folder, as a later tar entry below that name replaces it when unpacked.
 */
export function ensureDirectory(
  root: DirectoryNode,
  segments: readonly string[],
  modified: number,
): DirectoryNode {
  let folder = root;
  for (const name of segments) {
    const child = folder.children.get(name);
    if (child?.kind === "directory") {
      folder = child;
      continue;
    }
    const created = createDirectory(IMPLICIT_DIRECTORY_MODE, modified);
    folder.children.set(name, created);
    folder = created;
  }
  return folder;
}

/** Returns the folder at `segments` without following symlinks, or undefined. */
export function findDirectory(
  root: DirectoryNode,
  segments: readonly string[],
): DirectoryNode | undefined {
  let folder = root;
  for (const name of segments) {
    const child = folder.children.get(name);
    if (child?.kind !== "directory") return undefined;
    folder = child;
  }
  return folder;
}

/** Removes the node at a path, and so its whole subtree, without following symlinks. */
export function removeNode(root: DirectoryNode, segments: readonly string[]): void {
  const name = segments.at(-1);
  if (name === undefined) return;
  findDirectory(root, segments.slice(0, -1))?.children.delete(name);
}
