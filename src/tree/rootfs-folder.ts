import { rootfsViewOf } from "../image/rootfs-view.js";
import type { FilesystemView } from "../image/filesystem-view.js";
import type { BlobDescriptor } from "../source/image-source.js";
import type { ImageLocation } from "./image-folder.js";
import { indexLayers, layerTreeOf } from "./layers-folder.js";
import { folderInfo, type FolderNode, type TreeNode } from "./tree-node.js";
import { cachedView } from "./view-cache.js";
import { ViewFolder } from "./view-folder.js";

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
    // The image's digest is part of the key, because a layer's listing may come from a zTOC that only its SOCI index names.
    const image = this.location.image?.digest ?? "";
    const key = `rootfs ${image} ` + this.layers.map((layer) => layer.digest).join(",");
    const view = await cachedView(key, () => this.buildView());
    return new ViewFolder(view, [], { location: this.location, layers: this.layers });
  }

  private async buildView(): Promise<FilesystemView> {
    return rootfsViewOf(await indexLayers(this.location, this.layers, layerTreeOf));
  }
}
