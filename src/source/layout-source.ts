import type { Readable } from "node:stream";

import { log } from "../log.js";
import { parseDigest } from "../reference/digest.js";
import { FolderStorage } from "./folder-storage.js";
import type {
  BlobDescriptor,
  BlobSizeLookup,
  FetchedManifest,
  ImageSource,
  RepositoryLister,
} from "./image-source.js";
import { blobPathOf, openVerifiedBlob, statStoredBlob } from "./layout-blobs.js";
import {
  collectManifestDescriptors,
  readLayoutIndex,
  type IndexDescriptor,
} from "./layout-index.js";
import type { LayoutStorage } from "./layout-storage.js";
import { defaultRepositoryFor, parseRefName, type ImageName } from "./local-names.js";
import { readStoredManifest } from "./stored-manifest.js";
import { TagTable } from "./tag-table.js";

/** The OCI annotation that names a tag in a layout's `index.json`. */
const refNameAnnotation = "org.opencontainers.image.ref.name";

/** The full image name that containerd, and docker save since version 25, add beside the tag. */
const containerdNameAnnotation = "io.containerd.image.name";

/**
 * An OCI image layout (a folder, or the members of an OCI archive) as an
 * image source. Tags come from the name annotations of `index.json`, which
 * is read once when the source is opened. Every manifest and blob in the
 * layout is reachable by digest from each of the source's repositories.
 * NOTE: tags added to the layout after opening show only after a restart.
 */
export class OciLayoutSource implements ImageSource, RepositoryLister, BlobSizeLookup {
  private readonly tags: TagTable<IndexDescriptor>;
  private manifestDescriptors: Promise<Map<string, IndexDescriptor>> | undefined;

  constructor(
    readonly name: string,
    private readonly storage: LayoutStorage,
    private readonly indexDescriptors: readonly IndexDescriptor[],
  ) {
    this.tags = buildTagTable(name, indexDescriptors);
  }

  /** Reads `oci-layout` and `index.json` from `storage`. Throws naming the file at fault. */
  static async fromStorage(name: string, storage: LayoutStorage): Promise<OciLayoutSource> {
    return new OciLayoutSource(name, storage, await readLayoutIndex(storage));
  }

  async listRepositories(): Promise<string[]> {
    return this.tags.listRepositories();
  }

  async listTags(repository: string): Promise<string[]> {
    return this.tags.listTags(repository);
  }

  async getManifest(repository: string, reference: string): Promise<FetchedManifest> {
    if (reference.includes(":")) return this.manifestByDigest(repository, reference);

    const descriptor = this.tags.resolve(repository, reference);
    const hint = { ...descriptor, referenced: true };
    return readStoredManifest(this.storage, blobPathOf(descriptor.digest), repository, hint);
  }

  async openBlob(repository: string, descriptor: BlobDescriptor): Promise<Readable> {
    this.tags.requireRepository(repository);
    return openVerifiedBlob(this.storage, blobPathOf(descriptor.digest), repository, descriptor);
  }

  async statBlob(repository: string, digest: string): Promise<number> {
    this.tags.requireRepository(repository);
    return statStoredBlob(this.storage, blobPathOf(digest));
  }

  private async manifestByDigest(repository: string, digest: string): Promise<FetchedManifest> {
    parseDigest(digest);
    this.tags.requireRepository(repository);

    const known = (await this.descriptors()).get(digest);
    const hint = known ? { ...known, referenced: true } : { digest, referenced: false };
    return readStoredManifest(this.storage, blobPathOf(digest), repository, hint);
  }

  /** Returns the descriptors of every manifest the layout refers to, walked on the first lookup by digest. */
  private descriptors(): Promise<Map<string, IndexDescriptor>> {
    this.manifestDescriptors ??= collectManifestDescriptors(this.storage, this.indexDescriptors);
    return this.manifestDescriptors;
  }
}

/** Opens an OCI image layout folder. Throws naming the file at fault when it is not one. */
export async function openOciLayout(name: string, folder: string): Promise<OciLayoutSource> {
  return OciLayoutSource.fromStorage(name, await FolderStorage.open(folder));
}

function buildTagTable(
  sourceName: string,
  descriptors: readonly IndexDescriptor[],
): TagTable<IndexDescriptor> {
  const table = new TagTable<IndexDescriptor>(sourceName);
  const defaultRepository = defaultRepositoryFor(sourceName);
  for (const descriptor of descriptors) {
    const imageName = imageNameOf(sourceName, descriptor, defaultRepository);
    if (imageName.tag === undefined) table.addRepository(imageName.repository);
    else table.add(imageName.repository, imageName.tag, descriptor);
  }
  return table;
}

/**
 * Returns where an index entry is listed: by its containerd image name when
 * it has one, else by its ref name, else untagged in the default repository.
 * An invalid name is logged and the entry stays reachable by digest.
 */
function imageNameOf(
  sourceName: string,
  descriptor: IndexDescriptor,
  defaultRepository: string,
): ImageName {
  const names = [
    descriptor.annotations[containerdNameAnnotation],
    descriptor.annotations[refNameAnnotation],
  ];
  for (const value of names) {
    if (value === undefined) continue;
    try {
      return parseRefName(value, defaultRepository);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log.warn("ignoring image name in index.json", {
        source: sourceName,
        digest: descriptor.digest,
        error: message,
      });
    }
  }
  return { repository: defaultRepository };
}
