import { encodePathHref } from "../href-encoding.js";

/** File names in an image folder that the browser view pretty-prints. */
const METADATA_FILE_NAMES = new Set(["manifest.json", "index.json", "config.json"]);

/**
 * Returns the segments of the repository folder that `segments` lie in,
 * such as `["127.0.0.1:5000", "library", "debian"]`, or undefined above
 * any repository. The first segment after the registry that starts with
 * `_` (`_tags`, `_manifests`, `_blobs`) ends the repository, because no
 * repository or registry name can start with `_`.
 */
export function repositoryBase(segments: readonly string[]): readonly string[] | undefined {
  const end = segments.findIndex((name, position) => position > 0 && name.startsWith("_"));
  return end > 1 ? segments.slice(0, end) : undefined;
}

/**
 * Tests whether a path names the manifest, index or config of an image
 * folder, reached through `_tags/` or `_manifests/`, as opposed to a file
 * of the same name inside `rootfs/` or `layers/`.
 */
export function isImageMetadataFile(segments: readonly string[]): boolean {
  const name = segments.at(-1);
  const base = repositoryBase(segments);
  if (name === undefined || base === undefined || !METADATA_FILE_NAMES.has(name)) return false;

  const inside = segments.slice(base.length, -1);
  if (inside[0] !== "_tags" && inside[0] !== "_manifests") return false;
  return !inside.includes("rootfs") && !inside.includes("layers");
}

/** Returns the href of the image folder of a manifest digest: `_manifests/sha256/<hex>/`. */
export function manifestFolderHref(base: readonly string[], digest: string): string {
  return encodePathHref([...base, "_manifests", ...digestPath(digest)], true);
}

/** Returns the href of a blob's raw file: `_blobs/sha256/<hex>`. */
export function blobHref(base: readonly string[], digest: string): string {
  return encodePathHref([...base, "_blobs", ...digestPath(digest)], false);
}

function digestPath(digest: string): string[] {
  const separator = digest.indexOf(":");
  return [digest.slice(0, separator), digest.slice(separator + 1)];
}
