import type { LayerEntry, LayerIndex } from "../../../src/layer/layer-index.js";
import { resolvePath } from "./resolve-path.js";
import {
  createDirectory,
  ensureDirectory,
  removeNode,
  splitPath,
  type DirectoryNode,
  type PendingLinkNode,
  type TreeNode,
} from "./view-tree.js";

/**
 * Applies one layer to a tree that contains the layers below it, following
 * the OCI image-spec rules:
 * - whiteouts and opaque markers act only on the lower layers, so they are
 *   applied first, and entries of the same layer stay whatever their order;
 * - a whiteout removes the path and everything below it;
 * - an opaque folder loses its lower contents but stays, as a folder;
 * - a later entry replaces an earlier one, and a file replacing a folder
 *   drops the folder's subtree (a folder replacing a folder keeps it).
 *
 * Paths are matched literally: a symlink at a parent path is replaced by a
 * folder rather than followed, as when each layer is unpacked into its own
 * overlayfs folder. A hardlink whose target the index did not resolve is
 * resolved at its position in the tar, against the lower layers and this
 * layer's entries before it, so a target that the same layer replaces
 * later keeps its old content for the link, as extracting the tar in
 * order gives. A link whose target comes later in the layer is resolved
 * last.
 */
export function applyLayer(root: DirectoryNode, index: LayerIndex, layerIndex: number): void {
  for (const path of index.whiteouts) removeNode(root, splitPath(path));
  for (const path of index.opaqueDirectories) {
    ensureDirectory(root, splitPath(path), 0).children.clear();
  }

  const links = new PendingLinks(root);
  for (const entry of index.entries) {
    if (entry.type === "hardlink" && entry.dataOffset === undefined) {
      removeNode(root, splitPath(entry.path));
      links.place(entry);
      continue;
    }
    insertEntry(root, entry, layerIndex);
  }
  links.resolveAll();
}

function insertEntry(root: DirectoryNode, entry: LayerEntry, layerIndex: number): void {
  const segments = splitPath(entry.path);
  const name = segments.pop();
  if (name === undefined) return;
  const parent = ensureDirectory(root, segments, entry.modified);
  const existing = parent.children.get(name);

  if (entry.type === "directory" && existing?.kind === "directory") {
    existing.mode = entry.mode;
    existing.modified = entry.modified;
    return;
  }
  parent.children.set(name, nodeOf(entry, layerIndex));
}

function nodeOf(entry: LayerEntry, layerIndex: number): TreeNode {
  const { mode, modified } = entry;
  if (entry.type === "directory") return createDirectory(mode, modified);
  if (entry.type === "symlink") {
    return { kind: "symlink", mode, modified, target: entry.linkTarget ?? "" };
  }

  const content = { layerIndex, dataOffset: entry.dataOffset ?? 0, size: entry.size };
  return { kind: "file", mode, modified, content };
}

/**
 * Places each hardlink that the layer index left without content at its
 * position in the tar, with its parent folders, as every entry is: as its
 * target's node when the target exists then, else as a pending link. Later
 * entries of the layer at the same path or above it replace a pending link.
 * At the end of the layer, each pending link still in the tree becomes its
 * target's node, a file or a symlink. A link to a folder, to a missing path,
 * or in a cycle of links is dropped.
 *
 * Deliberate change from the frozen copy: that copy placed links whose
 * target was missing only at the end of the layer, over any later entry at
 * their path, and created their parent folders only when it placed them.
 */
class PendingLinks {
  private readonly placements: { parent: DirectoryNode; name: string; link: PendingLinkNode }[] = [];
  private readonly resolved = new Map<PendingLinkNode, TreeNode | undefined>();
  private readonly inProgress = new Set<PendingLinkNode>();

  constructor(private readonly root: DirectoryNode) {}

  place(entry: LayerEntry): void {
    const segments = splitPath(entry.path);
    const name = segments.pop();
    if (name === undefined) return;
    const target = entry.linkTarget ?? "";
    const resolution = resolvePath([this.root], target, false);
    const parent = ensureDirectory(this.root, segments, entry.modified);
    if (resolution.status === "found" && resolution.node.kind !== "directory") {
      parent.children.set(name, resolution.node);
      if (resolution.node.kind === "pending") this.placements.push({ parent, name, link: resolution.node });
      return;
    }
    const link: PendingLinkNode = { kind: "pending", mode: entry.mode, modified: entry.modified, target };
    parent.children.set(name, link);
    this.placements.push({ parent, name, link });
  }

  resolveAll(): void {
    for (const { parent, name, link } of this.placements) {
      if (parent.children.get(name) !== link) continue;
      const node = this.resolve(link);
      if (node) parent.children.set(name, node);
      else parent.children.delete(name);
    }
  }

  private resolve(link: PendingLinkNode): TreeNode | undefined {
    if (this.resolved.has(link)) return this.resolved.get(link);
    if (this.inProgress.has(link)) return undefined;
    this.inProgress.add(link);
    let node: TreeNode | undefined;
    const resolution = resolvePath([this.root], link.target, false);
    if (resolution.status === "found" && resolution.node.kind !== "directory") {
      node = resolution.node.kind === "pending" ? this.resolve(resolution.node) : resolution.node;
    }
    this.inProgress.delete(link);
    this.resolved.set(link, node);
    return node;
  }
}
