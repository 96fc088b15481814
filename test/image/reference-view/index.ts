/**
 * Reference implementation of the image views for the differential test in
 * view-differential.test.ts. The files in this folder are a frozen copy of
 * src/image/ at commit 5070752 ("Wrap three new source lines at 100
 * columns"), the in-memory merge that builds the whole folder tree of a layer
 * stack up front. They are kept as the oracle, so that a new implementation
 * of src/image/ must show the same folders, files, error codes and content
 * locations. Change them only to record a deliberate change of behaviour.
 *
 * Deliberate changes since that commit, besides import paths: a hardlink
 * whose target is missing at its position in the tar is placed there, with
 * its parent folders, and later entries replace it (PendingLinks in
 * apply-layer.ts), where the frozen copy placed it after all entries.
 *
 * Known difference: src/image/ decides whether a lower layer's node at a
 * hardlink's target is still visible by the target's literal path. When the
 * target path passes through a symlink of the link's own layer, this oracle,
 * which resolves it through that symlink, can give another result: a lower
 * symlink `a/a/a`, then in the upper layer a symlink `c` to `/a` and a
 * hardlink `c/a/a` to itself. The generator makes such stacks rarely, and
 * none among the seeds the test runs.
 */
export { buildLayerView as buildReferenceLayerView } from "./layer-view.js";
export { buildRootfsView as buildReferenceRootfsView } from "./rootfs-view.js";
export type { FilesystemView as ReferenceFilesystemView } from "./filesystem-view.js";
