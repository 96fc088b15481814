import type { Readable } from "node:stream";

import { computeDigest } from "../reference/digest.js";
import { buildDockerArchive, type DockerArchive } from "../export/docker-archive.js";
import type { ImageManifest, Schema1Manifest } from "../manifest/manifest-types.js";
import {
  convertedSchema1Of,
  exportImageOf,
  layerTarPart,
  type ExportImage,
} from "./export-image.js";
import type { ImageLocation } from "./image-folder.js";
import {
  fileInfo,
  folderInfo,
  type FileNode,
  type FolderNode,
  type TreeNode,
} from "./tree-node.js";
import type { ByteRange } from "./virtual-tree.js";

export const DOCKER_ARCHIVE_FOLDER = "docker-archive";
export const IMAGE_TAR_FILE = "image.tar";

/**
 * Bumped whenever the archive layout changes, so the ETag of image.tar
 * changes with its bytes and a client does not resume a copy across it.
 */
const ARCHIVE_LAYOUT_VERSION = 1;

/**
 * `docker-archive/`: contains `image.tar`, the image as a `docker load`
 * archive. Its size needs every layer's uncompressed size, which only an
 * indexing pass finds, so it sits in a folder of its own. Listing the image
 * folder costs nothing, while listing this folder, or opening image.tar,
 * downloads and indexes every layer once, as `rootfs/` does.
 */
export class DockerArchiveFolder implements FolderNode {
  readonly info = folderInfo(DOCKER_ARCHIVE_FOLDER);

  constructor(
    private readonly location: ImageLocation,
    private readonly manifest: ImageManifest | Schema1Manifest,
  ) {}

  async child(name: string): Promise<TreeNode | undefined> {
    return name === IMAGE_TAR_FILE ? this.imageTar() : undefined;
  }

  async children(): Promise<TreeNode[]> {
    return [await this.imageTar()];
  }

  private async imageTar(): Promise<FileNode> {
    const image =
      this.manifest.kind === "schema1"
        ? (await convertedSchema1Of(this.location, this.manifest)).image
        : await exportImageOf(this.location, this.manifest);
    return new ImageTarFile(archiveOf(this.location, image));
  }
}

/**
 * Returns the archive's RepoTags: the folder's tag as
 * `registry/repository:tag`. A folder opened by digest has no tag, and a
 * repo@digest name would make docker load fail ("invalid tag"), so its
 * archive loads untagged.
 */
export function repoTagsOf(location: ImageLocation): string[] {
  if (location.tag === undefined) return [];
  return [`${location.source.name}/${location.repository}:${location.tag}`];
}

function archiveOf(location: ImageLocation, image: ExportImage): DockerArchive {
  return buildDockerArchive({
    config: image.config,
    layers: image.layers.map(({ index }) => ({
      digest: index.diffId,
      content: layerTarPart(location, index),
    })),
    repoTags: repoTagsOf(location),
  });
}

/** `image.tar`: the archive's bytes, assembled on each read from the config blob and the layers. */
class ImageTarFile implements FileNode {
  readonly info;

  constructor(private readonly archive: DockerArchive) {
    // manifest.json names the config and every layer by digest, and the tags,
    // so together with the layout version it determines every byte.
    const identity = `${ARCHIVE_LAYOUT_VERSION}\n${archive.manifestJson.toString("utf8")}`;
    const hex = computeDigest(Buffer.from(identity)).slice("sha256:".length, "sha256:".length + 32);
    this.info = fileInfo(IMAGE_TAR_FILE, archive.content.size, {
      etag: `"docker-archive-${hex}"`,
      contentType: "application/x-tar",
    });
  }

  async open(range: ByteRange | undefined): Promise<Readable> {
    return this.archive.content.open(range);
  }
}
