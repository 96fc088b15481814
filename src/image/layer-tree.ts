import type { LayerListing } from "../layer/layer-index.js";
import { buildOwnTree, LowerMasks } from "./own-tree.js";
import { comparePaths } from "./path-order.js";
import { SpilledDirectory, type SpilledFolders } from "./spilled-folders.js";
import { sparseOf, splitPath, type DirectoryNode, type TreeNode } from "./view-tree.js";

/** Metadata of a node of a layer's own tree, as a merged view reads it. */
interface LayerNodeMetadata {
  /** Mode bits as in the tar header. */
  mode: number;
  /** Milliseconds since the epoch. */
  modified: number;
}

/** A folder of the layer's own tree. Its children are read with LayerTree.folder(). */
export interface LayerDirectoryNode extends LayerNodeMetadata {
  kind: "directory";
  /** Whether a tar entry describes the folder, rather than only paths below it. */
  explicit: boolean;
  /** See LayerFolder.replacesLower. */
  replacesLower: boolean;
  /** See LayerFolder.hidesLowerChildren. */
  hidesLowerChildren: boolean;
}

export interface LayerFileNode extends LayerNodeMetadata {
  kind: "file";
  /** Offset of the content in the layer's content space (see LayerEntry.dataOffset). */
  dataOffset: number;
  size: number;
  /** See LayerEntry.sparse. */
  sparse?: readonly number[];
}

export interface LayerSymlinkNode extends LayerNodeMetadata {
  kind: "symlink";
  target: string;
}

/** A hardlink that a merged view resolves (see PendingLinkNode). */
export interface LayerLinkNode extends LayerNodeMetadata {
  kind: "hardlink";
  target: string;
  lowerTarget: boolean;
}

export type LayerNode = LayerDirectoryNode | LayerFileNode | LayerSymlinkNode | LayerLinkNode;

/**
 * One folder of a layer's own tree, with what the layer does to the same
 * folder of the layers below it.
 */
export interface LayerFolder {
  /** The folder's children, or undefined when the layer has no folder here, only whiteouts below it. */
  children: ReadonlyMap<string, LayerNode> | undefined;
  /** Names whose lower-layer nodes this layer's whiteouts delete from this folder. */
  whiteouts: readonly string[];
  /**
   * True when the lower layers' node at this path is gone: a whiteout, or a
   * file, symlink or hardlink of this layer, took this path or a folder
   * above it, or an opaque marker cleared a folder above it. Neither the
   * lower children nor the lower mode and time show.
   */
  replacesLower: boolean;
  /**
   * True when the lower layers' children of this folder do not show:
   * replacesLower, or an opaque marker on this folder, which keeps the
   * lower folder's mode and time when the layer has no entry for it.
   */
  hidesLowerChildren: boolean;
}

/** A layer's own tree, read one folder at a time. */
export interface LayerTree {
  /** Returns the folder at a path taken literally, without following symlinks, or undefined. */
  folder(path: string): LayerFolder | undefined;
}

/** A layer tree held in memory, as built from a listing or for tests. */
export class MemoryLayerTree implements LayerTree {
  constructor(readonly folders: ReadonlyMap<string, LayerFolder>) {}

  static fromIndex(index: LayerListing): MemoryLayerTree {
    return new MemoryLayerTree(new Map(layerTreeFolders(index)));
  }

  folder(path: string): LayerFolder | undefined {
    return this.folders.get(path);
  }
}

/**
 * Yields every folder of a layer's own tree, and each folder that only
 * contains whiteouts, with the marks a merged view needs, in layer tree
 * order (path-order.ts). Each folder's record is made only when it is
 * yielded, so a writer that stores them one by one never keeps them all.
 *
 * With `folders`, the tree is built in SpilledFolders, and each folder's
 * children leave memory once its record is made, so the whole tree is never
 * in memory either. The generator closes `folders` when it ends.
 */
export function* layerTreeFolders(index: LayerListing, folders?: SpilledFolders): Generator<[string, LayerFolder]> {
  try {
    const marks = new LowerMasks(index);
    const whiteouts = whiteoutsByFolder(index.whiteouts);
    const whiteoutFolders = [...whiteouts.keys()].sort(comparePaths);
    let nextWhiteoutFolder = 0;

    const pending = [{ node: buildOwnTree(index, folders), replacesLower: false }];
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      const { node, replacesLower } = next;
      for (; nextWhiteoutFolder < whiteoutFolders.length; nextWhiteoutFolder++) {
        const path = whiteoutFolders[nextWhiteoutFolder]!;
        if (comparePaths(path, node.path) >= 0) break;
        yield [path, whiteoutOnlyFolder(whiteouts.get(path) ?? [])];
      }
      let folderWhiteouts: string[] = [];
      if (whiteoutFolders[nextWhiteoutFolder] === node.path) {
        folderWhiteouts = whiteouts.get(node.path) ?? [];
        nextWhiteoutFolder++;
      }

      const hidesLowerChildren = replacesLower || marks.isOpaque(node.path);
      const children = childrenOf(node, replacesLower, marks);
      yield [node.path, { children, whiteouts: folderWhiteouts, replacesLower, hidesLowerChildren }];

      // Pushed last name first, so the subfolders come out in the byte order of their names.
      const subfolders = subfoldersOf(node);
      for (let i = subfolders.length - 1; i >= 0; i--) {
        const child = subfolders[i]!;
        pending.push({ node: child, replacesLower: replacesLower || replacesLowerChild(node, child, marks) });
      }
      if (node instanceof SpilledDirectory) folders?.release(node.id);
    }
    for (const path of whiteoutFolders.slice(nextWhiteoutFolder)) {
      yield [path, whiteoutOnlyFolder(whiteouts.get(path) ?? [])];
    }
  } finally {
    folders?.close();
  }
}

function whiteoutOnlyFolder(whiteouts: string[]): LayerFolder {
  return { children: undefined, whiteouts, replacesLower: false, hidesLowerChildren: false };
}

/** Returns a folder's subfolders in the byte order of their UTF-8 names. */
function subfoldersOf(folder: DirectoryNode): DirectoryNode[] {
  const subfolders: { name: Buffer; node: DirectoryNode }[] = [];
  for (const [name, child] of folder.children) {
    if (child.kind === "directory") subfolders.push({ name: Buffer.from(name, "utf8"), node: child });
  }
  return subfolders.sort((a, b) => Buffer.compare(a.name, b.name)).map((subfolder) => subfolder.node);
}

function childrenOf(folder: DirectoryNode, replacesLower: boolean, marks: LowerMasks): Map<string, LayerNode> {
  const children = new Map<string, LayerNode>();
  for (const [name, child] of folder.children) {
    if (child.kind !== "directory") {
      children.set(name, layerNodeOf(child));
      continue;
    }
    const childReplaces = replacesLower || replacesLowerChild(folder, child, marks);
    const hidesLowerChildren = childReplaces || marks.isOpaque(child.path);
    const { mode, modified, explicit } = child;
    children.set(name, { kind: "directory", mode, modified, explicit, replacesLower: childReplaces, hidesLowerChildren });
  }
  return children;
}

/** Groups whiteout paths by the folder they delete a name from. */
function whiteoutsByFolder(whiteouts: readonly string[]): Map<string, string[]> {
  const byFolder = new Map<string, string[]>();
  for (const path of whiteouts) {
    const segments = splitPath(path);
    const name = segments.pop();
    if (name === undefined) continue;
    const folder = segments.join("/");
    const names = byFolder.get(folder);
    if (names) names.push(name);
    else byFolder.set(folder, [name]);
  }
  return byFolder;
}

function layerNodeOf(node: Exclude<TreeNode, DirectoryNode>): LayerNode {
  const { mode, modified } = node;
  if (node.kind === "file") {
    const { dataOffset, size, sparse } = node.content;
    return { kind: "file", mode, modified, dataOffset, size, ...sparseOf(sparse) };
  }
  if (node.kind === "symlink") return { kind: "symlink", mode, modified, target: node.target };
  return { kind: "hardlink", mode, modified, target: node.target, lowerTarget: node.lowerTarget };
}

/** Tells whether a child folder replaces the lower node at its path, given that its parent does not. */
function replacesLowerChild(parent: DirectoryNode, child: DirectoryNode, marks: LowerMasks): boolean {
  return marks.isOpaque(parent.path) || marks.isWhitedOut(child.path) || child.replacedFile;
}
