import type { LayerListing } from "../layer/layer-index.js";
import { buildOwnTree, LowerMasks } from "./own-tree.js";
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
 * contains whiteouts, with the marks a merged view needs, in the byte order
 * of their UTF-8 paths. Each folder's record is made only when it is
 * yielded, so a writer that stores them one by one never keeps them all.
 */
export function* layerTreeFolders(index: LayerListing): Generator<[string, LayerFolder]> {
  const marks = new LowerMasks(index);
  const folders = new Map<string, { node: DirectoryNode; replacesLower: boolean }>();
  const pending = [{ node: buildOwnTree(index), replacesLower: false }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    folders.set(next.node.path, next);
    for (const child of next.node.children.values()) {
      if (child.kind !== "directory") continue;
      pending.push({ node: child, replacesLower: next.replacesLower || replacesLowerChild(next.node, child, marks) });
    }
  }

  const whiteouts = whiteoutsByFolder(index.whiteouts);
  const paths = [...new Set([...folders.keys(), ...whiteouts.keys()])];
  const sorted = paths.map((path) => Buffer.from(path, "utf8")).sort(Buffer.compare);
  for (const bytes of sorted) {
    const path = bytes.toString("utf8");
    const folderWhiteouts = whiteouts.get(path) ?? [];
    const folder = folders.get(path);
    if (folder === undefined) {
      yield [path, { children: undefined, whiteouts: folderWhiteouts, replacesLower: false, hidesLowerChildren: false }];
      continue;
    }
    const { node, replacesLower } = folder;
    const hidesLowerChildren = replacesLower || marks.isOpaque(path);
    yield [path, { children: childrenOf(node, replacesLower, marks), whiteouts: folderWhiteouts, replacesLower, hidesLowerChildren }];
  }
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
