import { buildRootfsView } from "../image/rootfs-view.js";
import type { FilesystemView } from "../image/filesystem-view.js";
import type { BlobDescriptor } from "../source/image-source.js";
import type { ImageLocation } from "./image-folder.js";
import { indexLayerOf } from "./layers-folder.js";
import { folderInfo, type FolderNode, type TreeNode } from "./tree-node.js";
import { cachedView } from "./view-cache.js";
import { ViewFolder } from "./view-folder.js";

/** How many layers are indexed at once when a root filesystem is first opened. */
const PARALLEL_LAYER_PASSES = 3;

/**
 * `rootfs/`: the root filesystem the image runs with, all layers applied in
 * order with whiteouts honored. Opening it indexes every layer once.
 */
export class RootfsFolder implements FolderNode {
  readonly info = folderInfo("rootfs");

  constructor(
    private readonly location: ImageLocation,
    private readonly layers: readonly BlobDescriptor[],
  ) {}

  async child(name: string): Promise<TreeNode | undefined> {
    return (await this.root()).child(name);
  }

  async children(): Promise<TreeNode[]> {
    return (await this.root()).children();
  }

  private async root(): Promise<ViewFolder> {
    const key = "rootfs " + this.layers.map((layer) => layer.digest).join(",");
    const view = await cachedView(key, () => this.buildView());
    return new ViewFolder(view, [], { location: this.location, layers: this.layers });
  }

  private async buildView(): Promise<FilesystemView> {
    const indexes = await mapWithLimit(this.layers, PARALLEL_LAYER_PASSES, (layer) =>
      indexLayerOf(this.location, layer),
    );
    return buildRootfsView(indexes);
  }
}

/** Maps items through an async function with at most `limit` calls running, keeping the order. */
async function mapWithLimit<T, R>(items: readonly T[], limit: number, map: (item: T) => Promise<R>) {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const position = next++;
      results[position] = await map(items[position]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
