import type { LayerEntry, LayerListing } from "../layer/layer-index.js";
import { resolvePath } from "./resolve-path.js";
import type { FolderFactory } from "./spilled-folders.js";
import {
  createDirectory,
  ensureDirectory,
  IMPLICIT_DIRECTORY_MODE,
  ownedName,
  removeNode,
  sparseOf,
  splitPath,
  type DirectoryNode,
  type TreeNode,
} from "./view-tree.js";

/**
 * Builds one layer's own folder tree: its entries as unpacking the
 * tar into an empty folder leaves them, applied in the listing's order,
 * following the OCI image-spec rules that act inside one layer:
 * - opaque markers act before the entries, so a marker keeps its folder but
 *   entries of the same layer stay whatever their order;
 * - a later entry replaces an earlier one, and a file replacing a folder
 *   drops the folder's subtree (a folder replacing a folder keeps it);
 * - a file or symlink in the way of a later entry's parent is replaced by a
 *   folder.
 *
 * Whiteouts act only on the lower layers, so they leave this tree alone;
 * layer-tree.ts records them. Paths are matched literally: a symlink at a
 * parent path is replaced rather than followed, as when each layer is
 * unpacked into its own overlayfs folder.
 *
 * A hardlink becomes its target's node when the target is in the tree at
 * the link's position in the tar. Otherwise it stays a PendingLinkNode,
 * which a merged view resolves against the lower layers or the whole layer.
 *
 * The folders come from `folders` when it is given, such as SpilledFolders,
 * which keeps most of a large tree on disk. Without it they are plain objects.
 */
export function buildOwnTree(index: LayerListing, folders?: FolderFactory): DirectoryNode {
  const create: CreateFolder = folders ? (path, mode, modified) => folders.create(path, mode, modified) : createDirectory;
  const root = create("", IMPLICIT_DIRECTORY_MODE, 0);
  for (const path of index.opaqueDirectories) {
    ensureDirectory(root, splitPath(path), 0, create).children.clear();
  }

  const masks = new LowerMasks(index);
  for (const entry of index.entries) {
    if (entry.type === "hardlink" && entry.dataOffset === undefined) {
      // The link itself takes its path first, so a target at or below that path is hidden too.
      // NOTE: the target is matched literally here, and the tree keeps no order of entries. For a target
      // path through a symlink, the merge cannot always tell whether this layer changed the path before
      // or after the link, so the link may get the other content than unpacking in order gives.
      const target = entry.linkTarget ?? "";
      const takesTarget = target === entry.path || target.startsWith(`${entry.path}/`);
      placeLink(root, entry, !takesTarget && !masks.hidesNow(root, target), create);
    } else {
      insertEntry(root, entry, create);
    }
    folders?.checkpoint();
  }
  return root;
}

type CreateFolder = (path: string, mode: number, modified: number) => DirectoryNode;

/**
 * The whiteouts and opaque markers of a layer, which hide lower-layer paths
 * from the start of its tar. Entries hide more as the tar is read, and the
 * tree shows which: a file, symlink or hardlink at a path, or a folder that
 * took the place of one.
 */
export class LowerMasks {
  private readonly whiteouts: ReadonlySet<string>;
  private readonly opaqueDirectories: ReadonlySet<string>;

  constructor(index: Omit<LayerListing, "entries">) {
    this.whiteouts = new Set(index.whiteouts);
    this.opaqueDirectories = new Set(index.opaqueDirectories);
  }

  /** Tells whether a whiteout at the path or a folder above it, or an opaque marker above it, hides the lower node. */
  private hidesByMarker(path: string): boolean {
    const segments = splitPath(path);
    if (segments.length > 0 && this.opaqueDirectories.has("")) return true;
    for (let depth = 1; depth <= segments.length; depth++) {
      const prefix = segments.slice(0, depth).join("/");
      if (this.whiteouts.has(prefix)) return true;
      if (depth < segments.length && this.opaqueDirectories.has(prefix)) return true;
    }
    return false;
  }

  isOpaque(path: string): boolean {
    return this.opaqueDirectories.has(path);
  }

  isWhitedOut(path: string): boolean {
    return this.whiteouts.has(path);
  }

  /**
   * Tells whether the lower node at a literal path is hidden at this point
   * of the tar. A marker hides it, and so does an entry of the layer at the
   * path or at a folder above it, or a folder of the layer at the path.
   */
  hidesNow(root: DirectoryNode, path: string): boolean {
    if (this.hidesByMarker(path)) return true;
    let folder = root;
    for (const name of splitPath(path)) {
      const child = folder.children.get(name);
      if (child === undefined) return false;
      if (child.kind !== "directory" || child.replacedFile) return true;
      folder = child;
    }
    return folder !== root;
  }
}

/**
 * Places a hardlink as its target's node when the tree has the target now,
 * else as a pending link.
 *
 * @param lowerTarget whether a lower layer's node at the target path is still visible at the link's position in the tar
 */
function placeLink(root: DirectoryNode, link: LayerEntry, lowerTarget: boolean, create: CreateFolder): void {
  const segments = splitPath(link.path);
  const last = segments.pop();
  if (last === undefined) return;
  const name = ownedName(last);
  removeNode(root, [...segments, name]);

  const target = link.linkTarget ?? "";
  const resolution = resolvePath([root], target, false);
  const parent = ensureDirectory(root, segments, link.modified, create);
  if (resolution.status === "found" && resolution.node.kind !== "directory") {
    parent.children.set(name, resolution.node);
    return;
  }
  const { mode, modified } = link;
  parent.children.set(name, { kind: "hardlink", mode, modified, target, lowerTarget });
}

function insertEntry(root: DirectoryNode, entry: LayerEntry, create: CreateFolder): void {
  const segments = splitPath(entry.path);
  const last = segments.pop();
  if (last === undefined) return;
  const name = ownedName(last);
  const parent = ensureDirectory(root, segments, entry.modified, create);
  const existing = parent.children.get(name);

  if (entry.type === "directory" && existing?.kind === "directory") {
    existing.mode = entry.mode;
    existing.modified = entry.modified;
    existing.explicit = true;
    return;
  }
  parent.children.set(name, nodeOf(entry, existing, create));
}

function nodeOf(entry: LayerEntry, existing: TreeNode | undefined, create: CreateFolder): TreeNode {
  const { mode, modified } = entry;
  if (entry.type === "directory") {
    const folder = create(entry.path, mode, modified);
    folder.explicit = true;
    folder.replacedFile = existing !== undefined;
    return folder;
  }
  if (entry.type === "symlink") {
    return { kind: "symlink", mode, modified, target: entry.linkTarget ?? "" };
  }

  // The layer's position in an image is not known here, so a merged view sets layerIndex.
  const dataOffset = entry.dataOffset ?? 0;
  const content = { layerIndex: 0, dataOffset, size: entry.size, ...sparseOf(entry.sparse) };
  return { kind: "file", mode, modified, content };
}
