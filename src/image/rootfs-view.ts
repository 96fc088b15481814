import type { LayerIndex } from "../layer/layer-index.js";
import { FilesystemView } from "./filesystem-view.js";
import { LayeredFolders } from "./layered-folders.js";
import { MemoryLayerTree, type LayerTree } from "./layer-tree.js";

/**
 * Returns the merged root filesystem: every layer applied in order, base
 * layer first, with whiteouts and opaque folders honored. Each file's
 * content location names the layer, by position in `trees`, whose tar
 * contains it.
 */
export function rootfsViewOf(trees: readonly LayerTree[]): FilesystemView {
  return new FilesystemView(new LayeredFolders(trees).root);
}

/** Builds the merged root filesystem from the layers' listings, in memory. */
export function buildRootfsView(indexes: readonly LayerIndex[]): FilesystemView {
  return rootfsViewOf(indexes.map((index) => MemoryLayerTree.fromIndex(index)));
}
