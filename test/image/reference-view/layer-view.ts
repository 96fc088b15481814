import type { LayerIndex } from "../../../src/layer/layer-index.js";
import { applyLayer } from "./apply-layer.js";
import { FilesystemView } from "./filesystem-view.js";
import { createDirectory, IMPLICIT_DIRECTORY_MODE } from "./view-tree.js";

/**
 * Builds the view of one layer's own files: its entries as a folder tree,
 * with parent folders created where the tar has no entry for them. Whiteouts
 * are not shown, and a hardlink to a file of a lower layer is left out.
 *
 * @param layerIndex the layer's position in the image, stored in each file's content location
 */
export function buildLayerView(index: LayerIndex, layerIndex = 0): FilesystemView {
  const root = createDirectory(IMPLICIT_DIRECTORY_MODE, 0);
  applyLayer(root, index, layerIndex);
  return new FilesystemView(root);
}
