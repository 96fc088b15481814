/**
 * Reference implementation of the image views for the differential test in
 * view-differential.test.ts. The files in this folder are a frozen copy of
 * src/image/ at commit 5070752 ("Wrap three new source lines at 100
 * columns"), the in-memory merge that builds the whole folder tree of a layer
 * stack up front. Only their import paths differ from that commit. They are
 * kept unchanged as the oracle, so that a new implementation of src/image/
 * must show the same folders, files, error codes and content locations. Change
 * them only to record a deliberate change of behaviour.
 */
export { buildLayerView as buildReferenceLayerView } from "./layer-view.js";
export { buildRootfsView as buildReferenceRootfsView } from "./rootfs-view.js";
export type { FilesystemView as ReferenceFilesystemView } from "./filesystem-view.js";
