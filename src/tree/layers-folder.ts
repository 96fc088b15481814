import type { LayerIndex } from "../layer/layer-index.js";
import { buildLayerView } from "../image/layer-view.js";
import type { BlobDescriptor } from "../source/image-source.js";
import { BlobFile } from "./blob-file.js";
import type { ImageLocation } from "./image-folder.js";
import { layerFileName, layerFolderName } from "./layer-names.js";
import { folderInfo, type FolderNode, type TreeNode } from "./tree-node.js";
import { cachedView } from "./view-cache.js";
import { ViewFolder } from "./view-folder.js";

/**
 * `layers/`: each layer as its raw blob and, for image layers, as a folder
 * of the files in it. Listing this folder downloads nothing; opening a layer
 * folder runs that layer's indexing pass once.
 */
export class LayersFolder implements FolderNode {
  readonly info = folderInfo("layers");

  constructor(
    private readonly location: ImageLocation,
    private readonly layers: readonly BlobDescriptor[],
    private readonly withContents: boolean,
  ) {}

  async child(name: string): Promise<TreeNode | undefined> {
    return (await this.children()).find((node) => node.info.name === name);
  }

  async children(): Promise<TreeNode[]> {
    const nodes: TreeNode[] = [];
    this.layers.forEach((layer, offset) => {
      const position = offset + 1;
      nodes.push(this.rawFile(position, layer));
      if (this.withContents) nodes.push(this.contentsFolder(position, layer));
    });
    return nodes;
  }

  private rawFile(position: number, layer: BlobDescriptor): TreeNode {
    const { context, source, repository } = this.location;
    const name = layerFileName(position, layer);
    return new BlobFile(name, context, source, repository, { ...layer, size: layer.size ?? 0 });
  }

  private contentsFolder(position: number, layer: BlobDescriptor): FolderNode {
    const name = layerFolderName(position, layer);
    const open = async () => {
      const build = async () => buildLayerView(await indexLayerOf(this.location, layer), 0);
      const view = await cachedView("layer " + layer.digest, build);
      return new ViewFolder(view, [], { context: this.location.context, layers: [layer] });
    };
    return {
      info: folderInfo(name),
      child: async (childName) => (await open()).child(childName),
      children: async () => (await open()).children(),
    };
  }
}

/** Returns a layer's index, running its one indexing pass when it has none yet. */
export function indexLayerOf(location: ImageLocation, layer: BlobDescriptor): Promise<LayerIndex> {
  const { context, source, repository } = location;
  return context.layers.index(layer, () => source.openBlob(repository, layer));
}
