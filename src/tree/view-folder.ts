import type { Readable } from "node:stream";
import { LRUCache } from "lru-cache";

import { notFound } from "../errors.js";
import type { BlobDescriptor } from "../source/image-source.js";
import type { FilesystemView, ViewNode } from "../image/filesystem-view.js";
import { fileInfo, folderInfo, type FileNode, type FolderNode, type TreeNode } from "./tree-node.js";
import type { ImageLocation } from "./image-folder.js";
import { readLayerContent } from "./layers-folder.js";
import { sparseContent } from "./sparse-content.js";
import type { ByteRange, NodeInfo } from "./virtual-tree.js";

/** The image location and layers (base first) that a view folder reads file bytes from. */
export interface ViewLayers {
  readonly location: ImageLocation;
  readonly layers: readonly BlobDescriptor[];
}

/** A folder of a layer's or the merged root filesystem's view. */
export class ViewFolder implements FolderNode {
  readonly info;

  constructor(
    private readonly view: FilesystemView,
    private readonly path: readonly string[],
    private readonly layers: ViewLayers,
    node?: ViewNode,
    info?: NodeInfo & { type: "directory" },
  ) {
    this.info = info ?? folderInfo(path.at(-1) ?? "", node ? new Date(node.modified) : undefined);
  }

  /** Throws NOT_FOUND naming the path, and the link, when a symlink on the way is dangling. */
  async child(name: string): Promise<TreeNode | undefined> {
    const path = [...this.path, name];
    const key = `${viewIdOf(this.view)}\0${path.join("/")}`;
    let child = foundChildren.get(key);
    if (child === undefined) {
      // A lookup that throws is not cached, so its error names the path each time.
      child = listedChildOf(this.view.lookup(path), this.layers);
      foundChildren.set(key, child);
    }
    return this.wrap(path, child);
  }

  async children(): Promise<TreeNode[]> {
    return this.listing().map((child) => this.wrap([...this.path, child.node.name], child));
  }

  private wrap(path: string[], child: ListedChild): TreeNode {
    if (child.info.type === "directory") {
      return new ViewFolder(this.view, path, this.layers, child.node, child.info);
    }
    return new ViewFile(path, child.node, this.layers, child.info);
  }

  /**
   * Returns the children with their NodeInfo, from the cache when this folder
   * was listed before. The infos depend only on the view, because the key a
   * view is cached by names its layers.
   */
  private listing(): ListedChild[] {
    const key = `${viewIdOf(this.view)}\0${this.path.join("/")}`;
    let listing = listings.get(key);
    if (listing === undefined) {
      listing = this.view.list(this.path).map((node) => listedChildOf(node, this.layers));
      listings.set(key, listing);
    }
    return listing;
  }
}

/** A child of a view folder with its NodeInfo, which a cached listing builds only once. */
interface ListedChild {
  node: ViewNode;
  info: (NodeInfo & { type: "directory" }) | (NodeInfo & { type: "file" });
}

/**
 * Maximum children kept in the listing cache, over all folders: some
 * megabytes, at an estimated few hundred bytes each. A warm PROPFIND of a
 * cached folder skips walking the view and building a NodeInfo per child.
 */
const MAX_LISTED_CHILDREN = 20_000;

const listings = new LRUCache<string, ListedChild[]>({
  maxSize: MAX_LISTED_CHILDREN,
  sizeCalculation: (listing) => Math.max(1, listing.length),
});

/**
 * Maximum nodes kept from lookups by name, which each GET of a file in a
 * view makes for every segment of its path below the view's root.
 */
const MAX_FOUND_CHILDREN = 10_000;

const foundChildren = new LRUCache<string, ListedChild>({ max: MAX_FOUND_CHILDREN });

const viewIds = new WeakMap<FilesystemView, number>();
let nextViewId = 0;

/** Returns a number that names the view in cache keys, for as long as the view exists. */
function viewIdOf(view: FilesystemView): number {
  let id = viewIds.get(view);
  if (id === undefined) {
    id = nextViewId++;
    viewIds.set(view, id);
  }
  return id;
}

function listedChildOf(node: ViewNode, layers: ViewLayers): ListedChild {
  const modified = new Date(node.modified);
  if (node.type === "directory") return { node, info: folderInfo(node.name, modified) };
  const info = fileInfo(node.name, node.size, { modified, etag: etagOf(node, layers) });
  return { node, info };
}

/** A file inside a layer: its bytes are read from that layer's uncompressed tar by offset. */
class ViewFile implements FileNode {
  constructor(
    private readonly path: readonly string[],
    private readonly node: ViewNode,
    private readonly layers: ViewLayers,
    readonly info: NodeInfo & { type: "file" },
  ) {}

  async open(range: ByteRange | undefined): Promise<Readable> {
    const content = this.node.content;
    const layer = content && this.layers.layers[content.layerIndex];
    if (!content || !layer) throw notFound(`no content for ${this.path.join("/")}`);

    const start = range?.start ?? 0;
    const end = range?.end ?? this.node.size - 1;
    if (content.sparse) {
      const readStored = (storedOffset: number, length: number) =>
        readLayerContent(this.layers.location, layer, content.dataOffset + storedOffset, length);
      return sparseContent(content.sparse, this.node.size, readStored).open({ start, end });
    }
    const file = { dataOffset: content.dataOffset, size: this.node.size };
    return readLayerContent(this.layers.location, layer, content.dataOffset + start, end - start + 1, { file });
  }
}

function etagOf(node: ViewNode, layers: ViewLayers): string | undefined {
  const content = node.content;
  const layer = content && layers.layers[content.layerIndex];
  if (!content || !layer) return undefined;
  const hex = layer.digest.split(":")[1]?.slice(0, 16);
  return `"${hex}-${content.dataOffset.toString(16)}-${node.size.toString(16)}"`;
}
