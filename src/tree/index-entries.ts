import type { FetchedManifest } from "../source/image-source.js";
import type { IndexManifest } from "../manifest/parse.js";
import { indexEntryFolderNames, selectPlatformEntry } from "../manifest/platform.js";
import { BytesFile, imageFolder, imageFolderEntries, type ImageLocation } from "./image-folder.js";
import { parseManifest } from "../manifest/parse.js";
import { LazyFolder, type TreeNode } from "./tree-node.js";

/**
 * The entries of an index's folder: `index.json`, one folder per entry named
 * by platform, and the files of the entry that matches the wanted platform,
 * so `_tags/latest/rootfs/` works for a multi-platform tag as `docker pull`
 * does.
 */
export async function indexFolderEntries(
  location: ImageLocation,
  manifest: FetchedManifest,
  index: IndexManifest,
): Promise<TreeNode[]> {
  const names = indexEntryFolderNames(index.manifests);
  const entries: TreeNode[] = [new BytesFile("index.json", manifest.bytes, manifest.digest)];
  index.manifests.forEach((entry, position) => {
    const name = names[position]!;
    entries.push(new LazyFolder(name, () => openEntry(location, entry.digest, name)));
  });

  const chosen = selectPlatformEntry(index.manifests, location.context.platform);
  if (chosen) {
    const child = await location.source.getManifest(location.repository, chosen.digest);
    const parsed = parseManifest(child);
    if (parsed.kind !== "index") entries.push(...(await imageFolderEntries(location, child, parsed)));
  }
  return entries;
}

async function openEntry(location: ImageLocation, digest: string, name: string) {
  const manifest = await location.source.getManifest(location.repository, digest);
  return imageFolder(location, manifest, name);
}
