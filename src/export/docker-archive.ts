import {
  bytesPart,
  ConcatenatedContent,
  zerosPart,
  type ContentPart,
} from "./concatenated-content.js";
import {
  encodeTarHeader,
  END_OF_ARCHIVE_SIZE,
  paddingAfter,
  type TarMember,
} from "./tar-header.js";

/**
 * The `docker load` archive of one image, laid out as recent `docker save`
 * versions write it: `manifest.json` lists the config and the layers by
 * path, and every blob lies at `blobs/<algorithm>/<hex>`. Layers are
 * uncompressed tars named by their diff ID, because docker load and skopeo
 * check each layer against the diff ID at its position in the config. Both
 * find the members by the paths in manifest.json.
 */
export interface ArchiveImage {
  /** The image config: its digest names the member, and its bytes are the config blob. */
  config: ArchiveBlob;
  /** Base layer first, each with its diff ID as digest. The same layer may appear twice. */
  layers: readonly ArchiveBlob[];
  /**
   * `registry/repository:tag` names that docker load tags the image with,
   * such as `127.0.0.1:5000/team/app:v1`. Empty for an untagged image.
   */
  repoTags: readonly string[];
}

export interface ArchiveBlob {
  /** `sha256:<hex>` of the content. */
  digest: string;
  content: ContentPart;
}

export interface DockerArchive {
  content: ConcatenatedContent;
  /** The archive's manifest.json, which names every other member. */
  manifestJson: Buffer;
}

/**
 * Lays out the archive: manifest.json and repositories first, so a reader of
 * a stream learns the layout before the blobs, then the blobs folder, the
 * config and each distinct layer once, in the order of the config.
 */
export function buildDockerArchive(image: ArchiveImage): DockerArchive {
  const manifestJson = Buffer.from(JSON.stringify([archiveManifest(image)]));
  const parts: ContentPart[] = [...memberParts("manifest.json", bytesPart(manifestJson))];

  const repositories = repositoriesFile(image);
  if (repositories) parts.push(...memberParts("repositories", bytesPart(repositories)));

  const blobs = uniqueBlobs([image.config, ...image.layers]);
  for (const folder of blobFolders(blobs)) parts.push(...folderParts(folder));
  for (const blob of blobs) parts.push(...memberParts(blobPath(blob.digest), blob.content));

  parts.push(zerosPart(END_OF_ARCHIVE_SIZE));
  return { content: new ConcatenatedContent(parts), manifestJson };
}

/** Returns the entry of manifest.json. Its RepoTags is null for an untagged image, as in docker. */
function archiveManifest(image: ArchiveImage) {
  return {
    Config: blobPath(image.config.digest),
    RepoTags: image.repoTags.length > 0 ? image.repoTags : null,
    Layers: image.layers.map((layer) => blobPath(layer.digest)),
  };
}

/**
 * Builds the legacy `repositories` file, `{"<repository>": {"<tag>": "<hex>"}}`
 * with the top layer's diff ID, or undefined for an untagged image, as
 * docker omits it then. docker load reads it only from archives without
 * manifest.json, so here it is informational.
 */
function repositoriesFile(image: ArchiveImage): Buffer | undefined {
  const top = image.layers.at(-1);
  if (image.repoTags.length === 0 || !top) return undefined;

  const repositories: Record<string, Record<string, string>> = {};
  for (const repoTag of image.repoTags) {
    const { repository, tag } = splitRepoTag(repoTag);
    (repositories[repository] ??= {})[tag] = hexOf(top.digest);
  }
  return Buffer.from(JSON.stringify(repositories));
}

/** Splits `host:port/name:tag` at the colon after the last slash. */
export function splitRepoTag(repoTag: string): { repository: string; tag: string } {
  const colon = repoTag.lastIndexOf(":");
  if (colon <= repoTag.lastIndexOf("/")) {
    throw new RangeError(`${JSON.stringify(repoTag)} is not a repository:tag reference`);
  }
  return { repository: repoTag.slice(0, colon), tag: repoTag.slice(colon + 1) };
}

function memberParts(name: string, content: ContentPart): ContentPart[] {
  const member: TarMember = { name, type: "file", size: content.size };
  return [bytesPart(encodeTarHeader(member)), content, zerosPart(paddingAfter(content.size))];
}

function folderParts(name: string): ContentPart[] {
  return [bytesPart(encodeTarHeader({ name, type: "directory", size: 0 }))];
}

/** Returns `blobs/` and one `blobs/<algorithm>/` per algorithm in use, in order of first use. */
function blobFolders(blobs: readonly ArchiveBlob[]): string[] {
  const algorithms = new Set(blobs.map((blob) => algorithmOf(blob.digest)));
  return ["blobs/", ...[...algorithms].map((algorithm) => `blobs/${algorithm}/`)];
}

function uniqueBlobs(blobs: readonly ArchiveBlob[]): ArchiveBlob[] {
  const byDigest = new Map<string, ArchiveBlob>();
  for (const blob of blobs) if (!byDigest.has(blob.digest)) byDigest.set(blob.digest, blob);
  return [...byDigest.values()];
}

export function blobPath(digest: string): string {
  return `blobs/${algorithmOf(digest)}/${hexOf(digest)}`;
}

function algorithmOf(digest: string): string {
  return digest.slice(0, digest.indexOf(":"));
}

function hexOf(digest: string): string {
  return digest.slice(digest.indexOf(":") + 1);
}
