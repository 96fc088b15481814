import type { ParsedManifest } from "../manifest/parse.js";
import type { FetchedManifest } from "../source/image-source.js";
import type { ImageLocation } from "./image-folder.js";
import { DockerArchiveFolder } from "./image-tar-file.js";
import { OciLayoutFolder } from "./oci-layout-folder.js";
import { ReferrersFolder } from "./referrers-folder.js";
import type { TreeNode } from "./tree-node.js";

/**
 * Returns the folders that take a manifest out of the share:
 * `docker-archive/` with a `docker load` archive (for images, schema 1
 * included), `oci/` with an OCI image layout (every kind), and `_referrers/`
 * with the manifests that name it as their subject. Building them fetches
 * nothing.
 */
export function exportEntries(
  location: ImageLocation,
  manifest: FetchedManifest,
  parsed: ParsedManifest,
): TreeNode[] {
  const entries: TreeNode[] = [];
  if (parsed.kind === "image" || parsed.kind === "schema1") {
    entries.push(new DockerArchiveFolder(location, parsed));
  }
  entries.push(new OciLayoutFolder(location, manifest, parsed));
  entries.push(new ReferrersFolder(location, manifest.digest));
  return entries;
}

/**
 * Adds the export folders to a folder's entries, replacing entries of the
 * same name. An index's folder shows its chosen platform's files, and the
 * index's own `oci/` and `_referrers/` replace that platform's. The
 * platform's `docker-archive/` stays, because an index has none of its own.
 */
export function withExportEntries(entries: readonly TreeNode[], exports: readonly TreeNode[]) {
  const replaced = new Set(exports.map((node) => node.info.name));
  return [...entries.filter((node) => !replaced.has(node.info.name)), ...exports];
}
