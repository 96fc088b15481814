import { RegdavError } from "../errors.js";
import { computeDigest } from "../reference/digest.js";
import { layoutIndexFile, ociLayoutFile } from "../export/oci-layout.js";
import { parseManifest, type ParsedManifest } from "../manifest/parse.js";
import type { Descriptor } from "../manifest/manifest-types.js";
import type { FetchedManifest } from "../source/image-source.js";
import { BlobFile } from "./blob-file.js";
import { convertedSchema1Of } from "./export-image.js";
import { BytesFile, type ImageLocation } from "./image-folder.js";
import { folderInfo, StaticFolder, type FolderNode, type TreeNode } from "./tree-node.js";

export const OCI_LAYOUT_FOLDER = "oci";

/** Maximum nesting of indexes followed. Real images nest one or two levels. */
const MAX_INDEX_DEPTH = 8;

/**
 * `oci/`: the manifest as an OCI image layout folder, for `skopeo copy
 * oci:PATH:TAG` or `umoci unpack`. Manifests are the exact bytes the
 * registry served and blobs its exact blobs, so digests are preserved. For
 * an index the layout contains every platform's manifest and blobs.
 *
 * A schema 1 manifest has no OCI form in the registry, so its layout
 * contains the OCI manifest and config that regdav converts it to, with
 * digests of their own. Listing that layout indexes the image's layers,
 * because the config names their diff IDs. For every other kind, listing
 * fetches only manifests, and blobs are downloaded when read.
 */
export class OciLayoutFolder implements FolderNode {
  readonly info = folderInfo(OCI_LAYOUT_FOLDER);

  constructor(
    private readonly location: ImageLocation,
    private readonly manifest: FetchedManifest,
    private readonly parsed: ParsedManifest,
  ) {}

  async child(name: string): Promise<TreeNode | undefined> {
    if (name === "oci-layout") return new BytesFile(name, ociLayoutFile, "oci-layout");
    if (name === "index.json") return this.indexFile();
    if (name === "blobs") return this.blobsFolder();
    return undefined;
  }

  async children(): Promise<TreeNode[]> {
    const names = ["oci-layout", "index.json", "blobs"];
    const nodes = await Promise.all(names.map((name) => this.child(name)));
    return nodes.filter((node): node is TreeNode => node !== undefined);
  }

  private async indexFile(): Promise<TreeNode> {
    const top = await this.topDescriptor();
    const bytes = layoutIndexFile(top, this.location.tag);
    return new BytesFile("index.json", bytes, computeDigest(bytes));
  }

  private async topDescriptor(): Promise<Descriptor> {
    if (this.parsed.kind === "schema1") {
      return (await convertedSchema1Of(this.location, this.parsed)).converted.manifestDescriptor;
    }
    const { mediaType, digest, bytes } = this.manifest;
    return { mediaType, digest, size: bytes.length };
  }

  private blobsFolder(): FolderNode {
    const listing = () => layoutBlobs(this.location, this.manifest, this.parsed);
    return {
      info: folderInfo("blobs"),
      child: async (name) => (await listing()).find((node) => node.info.name === name),
      children: listing,
    };
  }
}

/** Files of a layout's blobs, by digest, each made once. */
type BlobNodes = Map<string, (name: string) => TreeNode>;

/** Returns one folder per digest algorithm in use (`sha256/`), with the blobs as files. */
async function layoutBlobs(
  location: ImageLocation,
  manifest: FetchedManifest,
  parsed: ParsedManifest,
): Promise<FolderNode[]> {
  const blobs: BlobNodes = new Map();
  await collectBlobs(location, manifest, parsed, blobs, 0);

  const byAlgorithm = new Map<string, TreeNode[]>();
  for (const [digest, makeNode] of blobs) {
    const [algorithm, hex] = digest.split(":") as [string, string];
    if (!byAlgorithm.has(algorithm)) byAlgorithm.set(algorithm, []);
    byAlgorithm.get(algorithm)!.push(makeNode(hex));
  }
  return [...byAlgorithm].map(([algorithm, nodes]) => new StaticFolder(algorithm, nodes));
}

/** Adds the manifest and everything it names, child manifests of an index included. */
async function collectBlobs(
  location: ImageLocation,
  manifest: FetchedManifest,
  parsed: ParsedManifest,
  blobs: BlobNodes,
  depth: number,
): Promise<void> {
  if (parsed.kind === "schema1") {
    const { converted } = await convertedSchema1Of(location, parsed);
    addBytes(blobs, converted.manifestDescriptor.digest, converted.manifest);
    addBytes(blobs, converted.configDescriptor.digest, converted.config);
    for (const layer of converted.layers) addBlob(location, blobs, layer);
    return;
  }

  addBytes(blobs, manifest.digest, manifest.bytes);
  if (parsed.kind !== "index") {
    for (const descriptor of [parsed.config, ...parsed.layers])
      addBlob(location, blobs, descriptor);
    return;
  }

  if (depth >= MAX_INDEX_DEPTH) {
    const where = `index ${manifest.digest} of ${location.repository}`;
    throw new RegdavError(
      "INVALID_MANIFEST",
      `${where}: indexes nest deeper than ${MAX_INDEX_DEPTH} levels`,
    );
  }
  const children = await Promise.all(
    parsed.manifests.map((entry) => location.source.getManifest(location.repository, entry.digest)),
  );
  for (const child of children) {
    const childParsed = parseManifest(child, location.repository);
    await collectBlobs(location, child, childParsed, blobs, depth + 1);
  }
}

function addBytes(blobs: BlobNodes, digest: string, bytes: Buffer): void {
  if (!blobs.has(digest)) blobs.set(digest, (name) => new BytesFile(name, bytes, digest));
}

function addBlob(
  location: ImageLocation,
  blobs: BlobNodes,
  descriptor: { digest: string; size: number; mediaType?: string },
): void {
  if (blobs.has(descriptor.digest)) return;
  const { context, source, repository } = location;
  blobs.set(
    descriptor.digest,
    (name) => new BlobFile(name, context, source, repository, descriptor),
  );
}
