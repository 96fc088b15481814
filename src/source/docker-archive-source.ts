import type { Readable } from "node:stream";

import { notFound } from "../errors.js";
import { log } from "../log.js";
import { parseDigest } from "../reference/digest.js";
import { ArchiveStorage } from "./archive-storage.js";
import { describeArchiveImage, type ArchiveImage } from "./docker-image-manifest.js";
import { readDockerSaveManifest, type DockerSaveEntry } from "./docker-save-manifest.js";
import type {
  BlobDescriptor,
  BlobSizeLookup,
  FetchedManifest,
  ImageSource,
  RepositoryLister,
} from "./image-source.js";
import { blobPathOf, openVerifiedBlob, statStoredBlob } from "./layout-blobs.js";
import type { LayoutStorage } from "./layout-storage.js";
import { defaultRepositoryFor, parseImageReference } from "./local-names.js";
import { readStoredManifest } from "./stored-manifest.js";
import { TagTable } from "./tag-table.js";

/** One image of the archive, whose manifest is built on first use. */
class SavedImage {
  private described: Promise<ArchiveImage> | undefined;

  constructor(
    readonly entry: DockerSaveEntry,
    private readonly storage: LayoutStorage,
  ) {}

  /** Builds the manifest once. A failed attempt is forgotten, so that the next call tries again. */
  describe(): Promise<ArchiveImage> {
    this.described ??= describeArchiveImage(this.storage, this.entry).catch((error: unknown) => {
      this.described = undefined;
      throw error;
    });
    return this.described;
  }
}

/**
 * A `docker save` or `podman save` archive (or its extracted folder) as an
 * image source, seen through its `manifest.json`. Each image is shown as a
 * Docker schema 2 manifest built from the archive's content. Tags come from
 * RepoTags; an image without RepoTags is reachable by digest only, in the
 * default repository or any other of the source. Manifests stored in the
 * archive's `blobs/` folder, as docker save writes since version 25, are
 * reachable by digest as well.
 */
export class DockerArchiveSource implements ImageSource, RepositoryLister, BlobSizeLookup {
  private readonly images: SavedImage[];
  private readonly tags: TagTable<SavedImage>;

  constructor(
    readonly name: string,
    private readonly storage: LayoutStorage,
    entries: readonly DockerSaveEntry[],
  ) {
    this.images = entries.map((entry) => new SavedImage(entry, storage));
    this.tags = buildTagTable(name, this.images);
  }

  /** Reads `manifest.json` from `storage`. Throws INVALID_MANIFEST or NOT_FOUND naming it. */
  static async fromStorage(name: string, storage: LayoutStorage): Promise<DockerArchiveSource> {
    return new DockerArchiveSource(name, storage, await readDockerSaveManifest(storage));
  }

  async listRepositories(): Promise<string[]> {
    return this.tags.listRepositories();
  }

  async listTags(repository: string): Promise<string[]> {
    return this.tags.listTags(repository);
  }

  async getManifest(repository: string, reference: string): Promise<FetchedManifest> {
    if (reference.includes(":")) return this.manifestByDigest(repository, reference);
    return (await this.tags.resolve(repository, reference).describe()).manifest;
  }

  async openBlob(repository: string, descriptor: BlobDescriptor): Promise<Readable> {
    this.tags.requireRepository(repository);
    const path = await this.blobPath(descriptor.digest);
    return openVerifiedBlob(this.storage, path, repository, descriptor);
  }

  async statBlob(repository: string, digest: string): Promise<number> {
    this.tags.requireRepository(repository);
    return statStoredBlob(this.storage, await this.blobPath(digest));
  }

  private async manifestByDigest(repository: string, digest: string): Promise<FetchedManifest> {
    parseDigest(digest);
    this.tags.requireRepository(repository);
    for (const image of this.images) {
      const { manifest } = await this.describeOrSkip(image);
      if (manifest?.digest === digest) return manifest;
    }

    const path = blobPathOf(digest);
    if ((await this.storage.sizeOf(path)) === undefined) {
      throw notFound(`no manifest ${digest} in ${this.storage.location}`);
    }
    return readStoredManifest(this.storage, path, repository, { digest, referenced: false });
  }

  /** Finds the member of a blob: `blobs/<alg>/<hex>` if present, else the member a manifest lists. */
  private async blobPath(digest: string): Promise<string> {
    const storedPath = blobPathOf(digest);
    if ((await this.storage.sizeOf(storedPath)) !== undefined) return storedPath;

    for (const image of this.images) {
      const found = (await this.describeOrSkip(image)).blobPaths?.get(digest);
      if (found !== undefined) return found;
    }
    throw notFound(`no blob ${digest} in ${this.storage.location}`);
  }

  /** Describes an image for a lookup by digest, where one damaged image must not hide the others. */
  private async describeOrSkip(image: SavedImage): Promise<Partial<ArchiveImage>> {
    try {
      return await image.describe();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log.debug("skipping image that cannot be described", {
        location: this.storage.location,
        position: image.entry.position,
        error: message,
      });
      return {};
    }
  }
}

/** Opens a `docker save` archive, which must be a plain tar. Throws naming the archive or member at fault. */
export async function openDockerArchive(name: string, path: string): Promise<DockerArchiveSource> {
  return DockerArchiveSource.fromStorage(name, await ArchiveStorage.open(path));
}

function buildTagTable(sourceName: string, images: readonly SavedImage[]): TagTable<SavedImage> {
  const table = new TagTable<SavedImage>(sourceName);
  for (const image of images) {
    const added = image.entry.repoTags.filter((repoTag) =>
      addRepoTag(table, sourceName, image, repoTag),
    );
    if (added.length === 0) table.addRepository(defaultRepositoryFor(sourceName));
  }
  return table;
}

/** Adds one RepoTags entry; returns false when it is invalid, which is logged. */
function addRepoTag(
  table: TagTable<SavedImage>,
  sourceName: string,
  image: SavedImage,
  repoTag: string,
): boolean {
  try {
    const { repository, tag } = parseImageReference(repoTag);
    if (tag === undefined) table.addRepository(repository);
    else table.add(repository, tag, image);
    return true;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log.warn("ignoring invalid RepoTags entry in manifest.json", {
      source: sourceName,
      repoTag,
      error: message,
    });
    return false;
  }
}
