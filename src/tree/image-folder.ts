import { Readable } from "node:stream";

import { isNotFound } from "../errors.js";
import type { SourceCache } from "../cache/source-cache.js";
import { parseManifest, type ParsedManifest } from "../manifest/parse.js";
import type { BlobDescriptor, FetchedManifest } from "../source/image-source.js";
import { BlobFile } from "./blob-file.js";
import { DescribedFolder } from "./described-folder.js";
import { exportEntries, withExportEntries } from "./export-entries.js";
import { describeImageFolder } from "./image-description.js";
import { indexFolderEntries } from "./index-entries.js";
import { LayersFolder } from "./layers-folder.js";
import { RootfsFolder } from "./rootfs-folder.js";
import type { SociImage } from "./soci-lookup.js";
import { fileInfo, type FileNode, type TreeNode } from "./tree-node.js";
import type { TreeContext } from "./tree-context.js";
import type { ByteRange } from "./virtual-tree.js";

/** The source and repository of an image folder's manifest, for its children to fetch blobs. */
export interface ImageLocation {
  readonly context: TreeContext;
  readonly source: SourceCache;
  readonly repository: string;
  /** The tag the folder was opened by, for the tags of exports; undefined for a digest. */
  readonly tag?: string;
  /** The image manifest whose layers are read here, where its SOCI index is looked up. */
  readonly image?: SociImage;
}

/**
 * Fetches a manifest by tag or digest and returns its image folder, or
 * undefined when the registry does not have it.
 */
export async function openImageFolder(
  context: TreeContext,
  source: SourceCache,
  repository: string,
  reference: string,
  name: string,
): Promise<TreeNode | undefined> {
  let manifest: FetchedManifest;
  try {
    manifest = await source.getManifest(repository, reference);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  const tag = reference.includes(":") ? undefined : reference;
  return imageFolder({ context, source, repository, tag }, manifest, name);
}

/** Builds the folder of one manifest, whatever its kind. */
export async function imageFolder(
  location: ImageLocation,
  manifest: FetchedManifest,
  name: string,
): Promise<TreeNode> {
  const parsed = parseManifest(manifest);
  const entries = await imageFolderEntries(location, manifest, parsed);
  const describe = (path: readonly string[]) => describeImageFolder(location, manifest, parsed, path);
  return new DescribedFolder(name, entries, describe);
}

/** Builds the entries of an image folder. An index's folder shows its platform's entries too. */
export async function imageFolderEntries(
  location: ImageLocation,
  manifest: FetchedManifest,
  parsed: ParsedManifest,
): Promise<TreeNode[]> {
  noteDescriptors(location, parsed);
  const entries = await manifestEntries(location, manifest, parsed);
  return withExportEntries(entries, exportEntries(location, manifest, parsed));
}

async function manifestEntries(
  location: ImageLocation,
  manifest: FetchedManifest,
  parsed: ParsedManifest,
): Promise<TreeNode[]> {
  switch (parsed.kind) {
    case "index":
      return indexFolderEntries(location, manifest, parsed);
    case "image": {
      const image = { ...location, image: { digest: manifest.digest, annotations: parsed.annotations } };
      return [
        new BytesFile("manifest.json", manifest.bytes, manifest.digest),
        configFile(location, parsed.config),
        new LayersFolder(image, parsed.layers, true),
        new RootfsFolder(image, parsed.layers),
      ];
    }
    case "schema1":
      return [
        new BytesFile("manifest.json", manifest.bytes, manifest.digest),
        new BytesFile("config.json", Buffer.from(parsed.configJson), manifest.digest + "-config"),
        new LayersFolder(location, parsed.layers, true),
        new RootfsFolder(location, parsed.layers),
      ];
    case "artifact":
      return [
        new BytesFile("manifest.json", manifest.bytes, manifest.digest),
        configFile(location, parsed.config),
        new LayersFolder(location, parsed.layers, false),
      ];
  }
}

function configFile(location: ImageLocation, config: BlobDescriptor & { size: number }): FileNode {
  const { context, source, repository } = location;
  return new BlobFile("config.json", context, source, repository, config, "application/json");
}

/** Remembers every digest the manifest names, for the `_manifests/` and `_blobs/` listings. */
function noteDescriptors(location: ImageLocation, parsed: ParsedManifest) {
  const { source, repository } = location;
  if (parsed.kind === "index") {
    for (const entry of parsed.manifests) source.noteManifest(repository, entry.digest);
    return;
  }
  if (parsed.kind !== "schema1") source.noteBlob(repository, parsed.config);
  for (const layer of parsed.layers) source.noteBlob(repository, layer);
}

/** A small file held in memory, such as a manifest: exactly the bytes the registry served. */
export class BytesFile implements FileNode {
  readonly info;

  constructor(
    name: string,
    private readonly bytes: Buffer,
    digest: string,
  ) {
    this.info = fileInfo(name, bytes.length, { etag: `"${digest}"`, contentType: "application/json" });
  }

  async open(range: ByteRange | undefined): Promise<Readable> {
    const slice = range ? this.bytes.subarray(range.start, range.end + 1) : this.bytes;
    return Readable.from([slice]);
  }
}

