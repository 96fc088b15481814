import { LRUCache } from "lru-cache";

import type { LayerDirectoryNode, LayerNode, LayerTree } from "./layer-tree.js";
import { resolvePath } from "./resolve-path.js";
import {
  childPath,
  IMPLICIT_DIRECTORY_MODE,
  sparseOf,
  splitPath,
  type DirectoryNode,
  type PendingLinkNode,
  type TreeNode,
} from "./view-tree.js";

/**
 * Estimated memory of the merged folders kept over all views, by
 * estimatedBytes. A folder that leaves the cache is merged again from its
 * layer trees when next read.
 */
const MAX_MERGED_BYTES = 16 * 1024 * 1024;

const mergedChildren = new LRUCache<string, Map<string, TreeNode>>({
  maxSize: MAX_MERGED_BYTES,
  sizeCalculation: estimatedBytes,
});

/**
 * The most recently merged folders, kept whatever their size. A folder too
 * large for the cache is then not merged again for each child that a
 * listing or a path lookup reads from it.
 */
const RECENT_FOLDERS = 2;
const recentFolders: { key: string; children: Map<string, TreeNode> }[] = [];

/**
 * Most hardlinks a resolution follows through links to later links, so that
 * a chain in a hostile layer ends before the call stack does. Past it, the
 * remaining links are left out.
 */
const MAX_LINK_CHAIN = 500;

/** Estimates the heap a merged folder takes: its names, symlink targets and about 150 bytes of objects per child. */
function estimatedBytes(children: Map<string, TreeNode>): number {
  let bytes = 64;
  for (const [name, node] of children) {
    bytes += 150 + 2 * name.length;
    if (node.kind === "symlink") bytes += 2 * node.target.length;
  }
  return bytes;
}

function cachedChildren(key: string): Map<string, TreeNode> | undefined {
  return mergedChildren.get(key) ?? recentFolders.find((recent) => recent.key === key)?.children;
}

function keepChildren(key: string, children: Map<string, TreeNode>): void {
  mergedChildren.set(key, children);
  recentFolders.unshift({ key, children });
  recentFolders.length = Math.min(recentFolders.length, RECENT_FOLDERS);
}

let nextId = 0;

/**
 * The folders of a stack of layer trees (base layer first) merged as the
 * layers are applied in order, each folder merged when it is first read.
 * A folder of a layer shows through unless an upper layer hides it:
 * - an upper file, symlink or hardlink at the same path wins;
 * - folders at the same path merge, unless the upper one replaces the lower
 *   (LayerFolder.replacesLower) or hides its children (an opaque marker);
 * - a whiteout deletes the lower node at its path.
 *
 * A folder's mode and time come from the topmost layer with an entry for it,
 * else from the lowest layer where it is implicit, as unpacking the layers in
 * order leaves them.
 */
export class LayeredFolders {
  readonly root: DirectoryNode;
  private readonly id = nextId++;
  /** Folders being merged, whose hardlinks are being resolved, by cache key. */
  private readonly drafts = new Map<string, Map<string, TreeNode>>();
  /** Views of the lowest layers only, by layer count, for resolving hardlinks. */
  private readonly prefixes = new Map<number, LayeredFolders>();

  /**
   * @param layers layer trees, base layer first
   * @param firstLayerIndex the layerIndex of the first tree in file content locations
   * @param resolving links being resolved, shared with the prefix views, to end cycles of links
   * @param layersBelow image layers below the first tree, which this view leaves out, for the
   *   reason given for a missing hardlink
   */
  constructor(
    private readonly layers: readonly LayerTree[],
    private readonly firstLayerIndex = 0,
    private readonly resolving = new Set<string>(),
    private readonly layersBelow = 0,
  ) {
    this.root = new MergedDirectory(this, "", IMPLICIT_DIRECTORY_MODE, 0, false, layers.length - 1, 0);
  }

  /** Returns the children of a folder of this view, merging them when they are not cached. */
  childrenOf(folder: MergedDirectory): Map<string, TreeNode> {
    const key = `${this.id}\0${folder.path}`;
    const cached = cachedChildren(key);
    if (cached) return cached;
    // A hardlink resolved inside this folder may look up a sibling, so the
    // lookup reads the draft, where the folder's other links are still pending.
    const draft = this.drafts.get(key);
    if (draft) return draft;

    const { children, links } = this.merge(folder);
    // Inside the resolution of a hardlink, a folder is read only for that
    // link's target. Resolving its own links there could meet the first link
    // still in progress and take it for a cycle, so they stay pending, and
    // the folder is merged again, with its links, when a client reads it.
    if (this.resolving.size > 0) return children;

    this.drafts.set(key, children);
    try {
      for (const link of links) {
        const node = this.resolveLink(link);
        if (node) children.set(link.name, node);
        else children.delete(link.name);
      }
    } finally {
      this.drafts.delete(key);
    }
    keepChildren(key, children);
    return children;
  }

  /**
   * Returns why a hardlink at `name` in a folder is left out, or undefined
   * when the topmost layer with a node or a whiteout at that name has no
   * hardlink there. Only links that did not resolve are left out.
   */
  unresolvedLinkReason(folder: MergedDirectory, name: string): string | undefined {
    for (let layer = folder.top; layer >= folder.bottom; layer--) {
      const own = this.layers[layer]!.folder(folder.path);
      if (own === undefined) continue;
      const node = own.children?.get(name);
      if (node?.kind === "hardlink") return this.linkProblem(layer, node.target, node.lowerTarget);
      const hidden = own.whiteouts.includes(name) || own.hidesLowerChildren;
      if (node !== undefined || hidden) return undefined;
    }
    return undefined;
  }

  private linkProblem(layer: number, target: string, lowerTarget: boolean): string {
    const quoted = JSON.stringify(target);
    if (layer === 0 && lowerTarget && this.layersBelow > 0) {
      const where = "which is not in this layer and may be a file of a lower layer";
      return `it is a hardlink to ${quoted}, ${where}; read it in the image's rootfs/`;
    }
    return `it is a hardlink to ${quoted}, which is not a file in this image`;
  }

  private merge(folder: MergedDirectory): { children: Map<string, TreeNode>; links: DraftLink[] } {
    const children = new Map<string, TreeNode>();
    const links: DraftLink[] = [];
    const folders = new Map<string, FolderDraft>();
    const whitedOut = new Set<string>();
    let lowest = folder.bottom;

    for (let layer = folder.top; layer >= folder.bottom; layer--) {
      const own = this.layers[layer]!.folder(folder.path);
      if (own === undefined) continue;
      for (const [name, node] of own.children ?? []) {
        if (whitedOut.has(name)) continue;
        const draft = folders.get(name);
        if (draft) {
          draft.addLower(layer, node);
          continue;
        }
        if (children.has(name)) continue;
        if (node.kind === "directory") {
          folders.set(name, new FolderDraft(layer, node));
          continue;
        }
        const child = this.nodeOf(layer, folder.path, name, node);
        children.set(name, child);
        if (child.kind === "hardlink") links.push(child as DraftLink);
      }
      for (const name of own.whiteouts) {
        whitedOut.add(name);
        folders.get(name)?.endAt(layer);
      }
      if (own.hidesLowerChildren) {
        lowest = layer;
        break;
      }
    }

    for (const [name, draft] of folders) {
      // Layers above the first one with the child folder may still have whiteouts below it, so its merge starts at this folder's top.
      children.set(name, draft.build(this, childPath(folder.path, name), folder.top, lowest));
    }
    return { children, links };
  }

  private nodeOf(layer: number, parent: string, name: string, node: Exclude<LayerNode, LayerDirectoryNode>): TreeNode {
    const { mode, modified } = node;
    if (node.kind === "file") {
      const { dataOffset, size, sparse } = node;
      const layerIndex = this.firstLayerIndex + layer;
      const content = { layerIndex, dataOffset, size, ...sparseOf(sparse) };
      return { kind: "file", mode, modified, content };
    }
    if (node.kind === "symlink") return { kind: "symlink", mode, modified, target: node.target };
    const link: DraftLink = {
      kind: "hardlink",
      mode,
      modified,
      target: node.target,
      lowerTarget: node.lowerTarget,
      owner: this,
      layer,
      name,
      path: childPath(parent, name),
    };
    return link;
  }

  /**
   * Resolves a hardlink of layer `link.layer`: against the layers below when
   * their node at the target path was visible at the link's position in the
   * tar, else against the layer's own tree over the layers below. Returns
   * undefined for a missing target, a folder, a cycle of links, or a chain
   * longer than MAX_LINK_CHAIN.
   */
  resolveLink(link: DraftLink): TreeNode | undefined {
    const key = `${this.id}\0${link.path}`;
    if (this.resolving.has(key) || this.resolving.size >= MAX_LINK_CHAIN) return undefined;
    this.resolving.add(key);
    try {
      if (link.lowerTarget && link.layer > 0) {
        const lower = this.prefix(link.layer).findLinkTarget(link.target);
        if (lower && !(lower.throughSymlink && this.layerTouches(link.layer, [link.target, lower.path]))) {
          return lower.node;
        }
      }
      return this.prefix(link.layer + 1).findLinkTarget(link.target)?.node;
    } finally {
      this.resolving.delete(key);
    }
  }

  /**
   * Finds the node a hardlink to `target` shares, without following a
   * symlink at its last component, as link(2) does, and its path with the
   * symlinks on the way followed.
   */
  private findLinkTarget(target: string): { node: TreeNode; path: string; throughSymlink: boolean } | undefined {
    const resolution = resolvePath([this.root], target, false);
    if (resolution.status !== "found") return undefined;
    const { node, parents } = resolution;
    if (node.kind === "directory") return undefined;
    const literal = target.split("/").filter((part) => part !== "" && part !== ".");
    const path = childPath(parents.at(-1)?.path ?? "", literal.at(-1) ?? "");
    const throughSymlink = path !== literal.join("/");
    if (node.kind !== "hardlink") return { node, path, throughSymlink };
    const draft = node as DraftLink;
    const resolved = draft.owner.resolveLink(draft);
    return resolved && { node: resolved, path, throughSymlink };
  }

  /**
   * Tells whether layer `layer` changes any step of the given literal
   * paths: a whiteout or opaque marker, a file, symlink or hardlink, or a
   * folder with an entry of its own or that replaced the lower node. A lower
   * node reached through a symlink is visible to a hardlink only when the
   * layer leaves the whole way alone, because the layer's tree does not say
   * whether its entries come before or after the link. Folders made only
   * for entries below them do not count, since the link's own path makes
   * those too.
   */
  private layerTouches(layer: number, paths: readonly string[]): boolean {
    const tree = this.layers[layer]!;
    for (const path of paths) {
      let folder = "";
      for (const name of splitPath(path)) {
        const own = tree.folder(folder);
        if (own?.hidesLowerChildren || own?.whiteouts.includes(name)) return true;
        const node = own?.children?.get(name);
        if (node && (node.kind !== "directory" || node.explicit || node.replacesLower)) return true;
        folder = childPath(folder, name);
      }
    }
    return false;
  }

  /** Returns the view of the lowest `count` layers. */
  private prefix(count: number): LayeredFolders {
    if (count >= this.layers.length) return this;
    let view = this.prefixes.get(count);
    if (view === undefined) {
      const layers = this.layers.slice(0, count);
      view = new LayeredFolders(layers, this.firstLayerIndex, this.resolving, this.layersBelow);
      this.prefixes.set(count, view);
    }
    return view;
  }
}

/** A hardlink in a folder being merged, before it is resolved. */
interface DraftLink extends PendingLinkNode {
  owner: LayeredFolders;
  /** Position of the link's layer in the owner's stack. */
  layer: number;
  name: string;
  path: string;
}

/** A folder of a merged view, whose children are merged from the layers when first read. */
class MergedDirectory implements DirectoryNode {
  readonly kind = "directory";
  /** Only layer trees being built mark this. */
  readonly replacedFile = false;

  /**
   * @param top the highest layer whose tree may have this folder or whiteouts in it
   * @param bottom the lowest layer whose children of this folder show
   */
  constructor(
    private readonly owner: LayeredFolders,
    readonly path: string,
    public mode: number,
    public modified: number,
    public explicit: boolean,
    readonly top: number,
    readonly bottom: number,
  ) {}

  get children(): Map<string, TreeNode> {
    return this.owner.childrenOf(this);
  }

  missingReason(name: string): string | undefined {
    return this.owner.unresolvedLinkReason(this, name);
  }
}

/** A child folder of a folder being merged, collecting the layers it shows through. */
class FolderDraft {
  private entryMetadata: { mode: number; modified: number } | undefined;
  private implicitMetadata: { mode: number; modified: number } = { mode: IMPLICIT_DIRECTORY_MODE, modified: 0 };
  /** The lowest layer whose children of this folder show, once known. */
  private childrenEnd: number | undefined;
  /** False once no lower layer's node at this path shows. */
  private open = true;

  constructor(layer: number, node: LayerDirectoryNode) {
    this.take(layer, node);
  }

  /** Adds the node that a lower layer has at this folder's path. */
  addLower(layer: number, node: LayerNode): void {
    if (!this.open) return;
    if (node.kind !== "directory") {
      this.endAt(layer + 1);
      return;
    }
    this.take(layer, node);
  }

  /** Ends the folder at `layer`: no layer below it shows here. */
  endAt(layer: number): void {
    this.childrenEnd ??= layer;
    this.open = false;
  }

  build(owner: LayeredFolders, path: string, top: number, lowest: number): MergedDirectory {
    const { mode, modified } = this.entryMetadata ?? this.implicitMetadata;
    const bottom = this.childrenEnd ?? lowest;
    return new MergedDirectory(owner, path, mode, modified, this.entryMetadata !== undefined, top, bottom);
  }

  private take(layer: number, node: LayerDirectoryNode): void {
    const { mode, modified } = node;
    if (node.explicit) this.entryMetadata ??= { mode, modified };
    else this.implicitMetadata = { mode, modified };

    if (node.replacesLower) this.endAt(layer);
    else if (node.hidesLowerChildren) this.childrenEnd ??= layer;
  }
}
