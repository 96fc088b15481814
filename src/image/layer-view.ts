import type { LayerIndex } from "../layer/layer-index.js";
import { FilesystemView } from "./filesystem-view.js";
import { LayeredFolders } from "./layered-folders.js";
import { MemoryLayerTree, type LayerTree } from "./layer-tree.js";

/**
 * Returns the view of one layer's own files: its entries as a folder tree,
 * with parent folders created where the tar has no entry for them. Whiteouts
 * are not shown, and a hardlink to a file of a lower layer is left out.
 *
 * @param layerIndex the layerIndex stored in each file's content location
 * @param layersBelow the image's layers under this one, so that a missing hardlink into them is
 *   explained
 */
export function layerViewOf(
  tree: LayerTree,
  layerIndex = 0,
  layersBelow = layerIndex,
): FilesystemView {
  return new FilesystemView(new LayeredFolders([tree], layerIndex, new Set(), layersBelow).root);
}

/** Builds the view of one layer's own files from its listing, in memory. */
export function buildLayerView(index: LayerIndex, layerIndex = 0): FilesystemView {
  return layerViewOf(MemoryLayerTree.fromIndex(index), layerIndex);
}
