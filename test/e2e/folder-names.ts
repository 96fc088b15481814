/*
 * The names that each kind of folder lists, sorted as listNames returns
 * them. Besides its own files, every manifest's folder lists the export
 * folders: `oci/` and `_referrers/` always, and `docker-archive/` for an
 * image, schema 1 included.
 */

const sortByCodeUnit = (names: readonly string[]) => [...names].sort();

/** The folders of an image folder, export folders included. */
export const imageSubfolders = sortByCodeUnit([
  "_referrers",
  "docker-archive",
  "layers",
  "oci",
  "rootfs",
]);

export const imageFolderNames = sortByCodeUnit([
  "config.json",
  "manifest.json",
  ...imageSubfolders,
]);

export const artifactFolderNames = sortByCodeUnit([
  "_referrers",
  "config.json",
  "layers",
  "manifest.json",
  "oci",
]);

/**
 * Returns what an index folder lists: index.json, one folder per entry, its
 * own export folders and, when an entry matches the wanted platform, that
 * image's files and docker-archive/.
 */
export function indexFolderNames(entryFolders: readonly string[], hasPlatformImage: boolean) {
  const own = ["index.json", "_referrers", "oci", ...entryFolders];
  return sortByCodeUnit([...new Set([...own, ...(hasPlatformImage ? imageFolderNames : [])])]);
}
