import type { TarLayerSummary } from "../layer/layer-index.js";
import { layerViewOf } from "../image/layer-view.js";
import type { LayerTree } from "../image/layer-tree.js";
import type { BlobDescriptor } from "../source/image-source.js";
import { stat } from "node:fs/promises";
import type { Readable } from "node:stream";

import type { RemoteBlob } from "../cache/layer-content.js";
import type { ContentReadOptions } from "../cache/layer-store.js";

import { BlobFile, downloadBlob } from "./blob-file.js";
import type { ImageLocation } from "./image-folder.js";
import { layerFileName, layerFolderName } from "./layer-names.js";
import { ztocSourceOf } from "./soci-lookup.js";
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
    const sizes = await Promise.all(this.layers.map((layer) => this.sizeOf(layer)));
    const nodes: TreeNode[] = [];
    this.layers.forEach((layer, offset) => {
      const position = offset + 1;
      nodes.push(this.rawFile(position, { ...layer, size: sizes[offset]! }));
      if (this.withContents) nodes.push(this.contentsFolder(position, layer));
    });
    return nodes;
  }

  /** Schema 1 manifests give no layer sizes, so those come from the source. */
  private async sizeOf(layer: BlobDescriptor): Promise<number> {
    if (layer.size !== undefined) return layer.size;
    const { context, source, repository } = this.location;
    const size = await source.blobSize(repository, layer.digest);
    if (size !== undefined) return size;
    return (await stat(await downloadBlob(context, source, repository, layer))).size;
  }

  private rawFile(position: number, layer: BlobDescriptor & { size: number }): TreeNode {
    const { context, source, repository } = this.location;
    return new BlobFile(layerFileName(position, layer), context, source, repository, layer);
  }

  private contentsFolder(position: number, layer: BlobDescriptor): FolderNode {
    const name = layerFolderName(position, layer);
    const open = async () => {
      const build = async () => {
        const tree = await layerTreeOf(this.location, layer);
        // Positions count from 1 at the base layer, so position - 1 layers lie below this one.
        return layerViewOf(tree, 0, position - 1);
      };
      const key = `layer ${this.location.image?.digest ?? ""} ${position} ${layer.digest}`;
      const view = await cachedView(key, build);
      return new ViewFolder(view, [], { location: this.location, layers: [layer] });
    };
    return {
      info: folderInfo(name),
      child: async (childName) => (await open()).child(childName),
      children: async () => (await open()).children(),
    };
  }
}

/**
 * Opens `length` bytes at `offset` of a layer's content, by a Range request
 * on the compressed blob when it is not cached. The offset is one of the
 * listing layerTreeOf was built from, or, with `tarOffsets`, of the uncompressed tar.
 */
export function readLayerContent(
  location: ImageLocation,
  layer: BlobDescriptor,
  offset: number,
  length: number,
  options: ContentReadOptions = {},
): Promise<Readable> {
  const { context, source, repository } = location;
  const remote: RemoteBlob = {
    descriptor: layer,
    openRange: rangeOpenerOf(location, layer),
    openWhole: () => source.openBlob(repository, layer),
    repository: `${source.name}/${repository}`,
  };
  return context.layers.readContent(remote, offset, length, options);
}

function rangeOpenerOf(location: ImageLocation, layer: BlobDescriptor) {
  const { source, repository } = location;
  if (!source.canReadRanges) return undefined;
  return (start: number, end: number) => source.openBlobRange(repository, layer.digest, start, end);
}

/**
 * Returns a layer's listing as a tree stored in the cache: the listing from
 * its table of contents when it has one, else from its one indexing pass,
 * run when it has none yet.
 */
export function layerTreeOf(location: ImageLocation, layer: BlobDescriptor): Promise<LayerTree> {
  const { context, source, repository } = location;
  const label = `${source.name}/${repository}`;
  const ztoc = location.image && ztocSourceOf(location, location.image, layer.digest);
  return context.layers.tree(layer, () => source.openBlob(repository, layer), label, rangeOpenerOf(location, layer), ztoc);
}

/** Returns a layer's index with tar offsets and diff ID, as export needs, from its indexing pass. */
export function tarIndexOf(location: ImageLocation, layer: BlobDescriptor): Promise<TarLayerSummary> {
  const { context, source, repository } = location;
  const label = `${source.name}/${repository}`;
  return context.layers.tarIndex(layer, () => source.openBlob(repository, layer), label);
}

/** How many layers are indexed at once when a whole image is first opened. */
const PARALLEL_LAYER_PASSES = 3;

/**
 * Runs `indexOne` for each of an image's layers, at most
 * PARALLEL_LAYER_PASSES at once, so that the passes of a new image overlap,
 * and returns the results in layer order.
 */
export async function indexLayers<T>(
  location: ImageLocation,
  layers: readonly BlobDescriptor[],
  indexOne: (location: ImageLocation, layer: BlobDescriptor) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array(layers.length);
  let next = 0;
  const worker = async () => {
    while (next < layers.length) {
      const position = next++;
      results[position] = await indexOne(location, layers[position]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_LAYER_PASSES, layers.length) }, worker));
  return results;
}
