import type { Readable } from "node:stream";

import { notFound } from "../errors.js";
import type { BlobDescriptor } from "../source/image-source.js";
import type { FilesystemView, ViewNode } from "../image/filesystem-view.js";
import { fileInfo, folderInfo, type FileNode, type FolderNode, type TreeNode } from "./tree-node.js";
import type { ImageLocation } from "./image-folder.js";
import { readLayerContent } from "./layers-folder.js";
import type { ByteRange } from "./virtual-tree.js";

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
  ) {
    this.info = folderInfo(path.at(-1) ?? "", node ? new Date(node.modified) : undefined);
  }

  /** Throws NOT_FOUND naming the path, and the link, when a symlink on the way is dangling. */
  async child(name: string): Promise<TreeNode | undefined> {
    const path = [...this.path, name];
    return this.wrap(path, this.view.lookup(path));
  }

  async children(): Promise<TreeNode[]> {
    return this.view.list(this.path).map((node) => this.wrap([...this.path, node.name], node));
  }

  private wrap(path: string[], node: ViewNode): TreeNode {
    if (node.type === "directory") return new ViewFolder(this.view, path, this.layers, node);
    return new ViewFile(path, node, this.layers);
  }
}

/** A file inside a layer: its bytes are read from that layer's uncompressed tar by offset. */
class ViewFile implements FileNode {
  readonly info;

  constructor(
    private readonly path: readonly string[],
    private readonly node: ViewNode,
    private readonly layers: ViewLayers,
  ) {
    this.info = fileInfo(node.name, node.size, {
      modified: new Date(node.modified),
      etag: etagOf(node, layers),
    });
  }

  async open(range: ByteRange | undefined): Promise<Readable> {
    const content = this.node.content;
    const layer = content && this.layers.layers[content.layerIndex];
    if (!content || !layer) throw notFound(`no content for ${this.path.join("/")}`);

    const start = range?.start ?? 0;
    const end = range?.end ?? this.node.size - 1;
    return readLayerContent(this.layers.location, layer, content.dataOffset + start, end - start + 1);
  }
}

function etagOf(node: ViewNode, layers: ViewLayers): string | undefined {
  const content = node.content;
  const layer = content && layers.layers[content.layerIndex];
  if (!content || !layer) return undefined;
  const hex = layer.digest.split(":")[1]?.slice(0, 16);
  return `"${hex}-${content.dataOffset.toString(16)}-${node.size.toString(16)}"`;
}
