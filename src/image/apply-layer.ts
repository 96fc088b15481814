import type { LayerEntry, LayerIndex } from "../layer/layer-index.js";
import { resolvePath } from "./resolve-path.js";
import {
  createDirectory,
  ensureDirectory,
  removeNode,
  splitPath,
  type DirectoryNode,
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
 * resolved where it stands in the tar, against the lower layers and this
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

  const unresolvedLinks: LayerEntry[] = [];
  for (const entry of index.entries) {
    if (entry.type === "hardlink" && entry.dataOffset === undefined) {
      removeNode(root, splitPath(entry.path));
      if (!linkToExisting(root, entry)) unresolvedLinks.push(entry);
      continue;
    }
    insertEntry(root, entry, layerIndex);
  }
  new HardlinkResolver(root, unresolvedLinks).resolveAll();
}

/** Places a hardlink as its target's node when the target exists now; returns whether it did. */
function linkToExisting(root: DirectoryNode, link: LayerEntry): boolean {
  const resolution = resolvePath([root], link.linkTarget ?? "", false);
  if (resolution.status !== "found" || resolution.node.kind === "directory") return false;

  const segments = splitPath(link.path);
  const name = segments.pop();
  if (name === undefined) return false;
  ensureDirectory(root, segments, link.modified).children.set(name, resolution.node);
  return true;
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
 * Places the hardlinks that the layer index left without content: their
 * target is in a lower layer, later in this layer, or nowhere. A link becomes
 * the same node as its target, a file or a symlink. A link to a folder, to a
 * missing path, or in a cycle of links is left out.
 */
class HardlinkResolver {
  private readonly unresolved = new Map<string, LayerEntry>();
  private readonly inProgress = new Set<string>();

  constructor(
    private readonly root: DirectoryNode,
    links: readonly LayerEntry[],
  ) {
    for (const link of links) this.unresolved.set(link.path, link);
  }

  resolveAll(): void {
    for (const link of [...this.unresolved.values()]) this.resolve(link);
  }

  private resolve(link: LayerEntry): void {
    if (!this.unresolved.has(link.path) || this.inProgress.has(link.path)) return;
    this.inProgress.add(link.path);

    const target = link.linkTarget ?? "";
    const linkedLink = this.unresolved.get(target);
    if (linkedLink) this.resolve(linkedLink);

    this.unresolved.delete(link.path);
    const node = this.findTarget(target);
    if (node) this.place(link.path, node);
  }

  /** Finds the target without following a symlink at its last component, as link(2) does. */
  private findTarget(target: string): TreeNode | undefined {
    const resolution = resolvePath([this.root], target, false);
    if (resolution.status !== "found" || resolution.node.kind === "directory") return undefined;
    return resolution.node;
  }

  private place(path: string, node: TreeNode): void {
    const segments = splitPath(path);
    const name = segments.pop();
    if (name === undefined) return;
    ensureDirectory(this.root, segments, node.modified).children.set(name, node);
  }
}
