/**
 * The folder tree that views walk. A layer's own tree is built from its
 * listing, in memory or with most folders on disk (spilled-folders.ts), and
 * a merged view makes its folders on demand from the layer trees. Each
 * folder maps child names to nodes, so lookups cost one map access per path
 * segment even in folders with many thousands of entries. A file node does
 * not store its own name, so a hardlinked file can be one node under two
 * names.
 */

/** Location of a file's bytes: a range of one layer's uncompressed tar. */
export interface ContentLocation {
  /** Position of the layer in the image's layer list, the base layer being 0. */
  readonly layerIndex: number;
  /** Offset of the first byte in that layer's uncompressed tar stream. */
  readonly dataOffset: number;
  readonly size: number;
  /** For a sparse file, where its bytes stored from dataOffset lie (see LayerEntry.sparse). */
  readonly sparse?: readonly number[];
}

interface NodeMetadata {
  /** Mode bits as in the tar header. */
  mode: number;
  /** Milliseconds since the epoch. */
  modified: number;
}

export interface DirectoryNode extends NodeMetadata {
  readonly kind: "directory";
  /** Path from the root without symlinks, such as `usr/bin`; `""` is the root. */
  readonly path: string;
  readonly children: Map<string, TreeNode>;
  /** Whether a tar entry describes the folder, rather than only paths below it. */
  explicit: boolean;
  /** Whether the folder took the place of a file, symlink or hardlink, which had hidden any lower folder here. */
  replacedFile: boolean;
  /** Returns why a name is missing from the folder, when a layer has a node there left out. */
  missingReason?(name: string): string | undefined;
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
 * A hardlink of a layer's own tree whose target the layer does not contain
 * when the link is written: it is in a lower layer, later in the layer, or
 * nowhere. A merged view resolves it against the layers, so views never
 * show this kind.
 */
export interface PendingLinkNode extends NodeMetadata {
  readonly kind: "hardlink";
  /** Normalized path of the target below the image root. */
  readonly target: string;
  /**
   * Whether the lower layers' node at the target path was still visible
   * at the link's position in the tar, as no whiteout, opaque marker or
   * earlier entry of the layer had hidden it.
   */
  readonly lowerTarget: boolean;
}

export type TreeNode = DirectoryNode | FileNode | SymlinkNode | PendingLinkNode;

/** Returns the `sparse` field to spread into a node, or nothing for a file without holes. */
export function sparseOf(sparse: readonly number[] | undefined): { sparse?: readonly number[] } {
  return sparse === undefined ? {} : { sparse };
}

/** Mode of folders that no tar entry describes, such as `a` for a layer with only `a/b`. */
export const IMPLICIT_DIRECTORY_MODE = 0o755;

/** Creates an empty folder that no tar entry describes yet. */
export function createDirectory(path: string, mode: number, modified: number): DirectoryNode {
  return { kind: "directory", path, mode, modified, children: new Map(), explicit: false, replacedFile: false };
}

/** Joins a folder's path and a child's name into the child's path. */
export function childPath(folder: string, name: string): string {
  return folder === "" ? name : `${folder}/${name}`;
}

/**
 * Returns a copy of a name that holds only its own characters, for names a
 * tree keeps. V8 makes a segment of 13 characters or more that split() or
 * slice() cuts from a path into a view of the whole path string, so a tree
 * of 300,000 files kept their whole paths alive: about 20 MiB more.
 */
export function ownedName(name: string): string {
  return name.length < 13 ? name : (JSON.parse(JSON.stringify(name)) as string);
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
  create: (path: string, mode: number, modified: number) => DirectoryNode = createDirectory,
): DirectoryNode {
  let folder = root;
  for (const segment of segments) {
    const child = folder.children.get(segment);
    if (child?.kind === "directory") {
      folder = child;
      continue;
    }
    const name = ownedName(segment);
    const created = create(childPath(folder.path, name), IMPLICIT_DIRECTORY_MODE, modified);
    created.replacedFile = child !== undefined;
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
