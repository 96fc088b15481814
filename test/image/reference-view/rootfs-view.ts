import type { LayerIndex } from "../../../src/layer/layer-index.js";
import { applyLayer } from "./apply-layer.js";
import { FilesystemView } from "./filesystem-view.js";
import { createDirectory, IMPLICIT_DIRECTORY_MODE } from "./view-tree.js";

/**
 * Builds the merged root filesystem: every layer applied in order, base layer
 * first, with whiteouts and opaque folders honored. Each file's content
 * location names the layer, by position in `indexes`, whose tar contains it.
 */
export function buildRootfsView(indexes: readonly LayerIndex[]): FilesystemView {
  const root = createDirectory(IMPLICIT_DIRECTORY_MODE, 0);
  indexes.forEach((index, layerIndex) => applyLayer(root, index, layerIndex));
  return new FilesystemView(root);
}
