import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

import {
  makeJsonBlob,
  makeLayerTar,
  mediaTypes,
  sha256Digest,
  type ImageBlob,
  type TarEntry,
} from "../harness/image-builder.js";
import { uncompressedLayerOf, type TestImage, type TestImageSet } from "./local-images.js";

/**
 * Writers of the test images in each local format: an OCI image layout (as
 * files, a folder or a tar) and `docker save` archives in three styles.
 */

/** A file of a layout or archive, in the order it is written. */
export interface StoredFile {
  path: string;
  content: Buffer;
}

export function blobPath(digest: string): string {
  return `blobs/${digest.replace(":", "/")}`;
}

/** Returns the files of an OCI image layout, metadata first and then the blobs. */
export function layoutFiles(set: TestImageSet, extraIndexEntries: object[] = []): StoredFile[] {
  const index = {
    schemaVersion: 2,
    mediaType: mediaTypes.ociIndex,
    manifests: [...set.images.flatMap(indexEntriesOf), ...extraIndexEntries],
  };
  const files: StoredFile[] = [
    { path: "oci-layout", content: Buffer.from(JSON.stringify({ imageLayoutVersion: "1.0.0" })) },
    { path: "index.json", content: Buffer.from(JSON.stringify(index)) },
  ];
  const seen = new Set<string>();
  for (const image of set.images) {
    for (const blob of [image.manifest, image.config, ...image.layers]) {
      if (!seen.has(blob.digest)) files.push({ path: blobPath(blob.digest), content: blob.bytes });
      seen.add(blob.digest);
    }
  }
  return files;
}

function indexEntriesOf(image: TestImage): object[] {
  const descriptor = {
    mediaType: image.manifest.mediaType,
    digest: image.manifest.digest,
    size: image.manifest.size,
  };
  if (image.names.length === 0) return [descriptor];
  return image.names.map((name) => ({
    ...descriptor,
    annotations: { "org.opencontainers.image.ref.name": name },
  }));
}

export async function writeFolder(folder: string, files: readonly StoredFile[]): Promise<void> {
  for (const file of files) {
    await mkdir(dirname(join(folder, file.path)), { recursive: true });
    await writeFile(join(folder, file.path), file.content);
  }
}

/** Writes a tar of the files with tar-stream, each name behind `prefix` (such as `./`). */
export async function writeTar(
  path: string,
  files: readonly StoredFile[],
  prefix = "",
  links: TarEntry[] = [],
): Promise<void> {
  const entries: TarEntry[] = files.map((file) => ({
    type: "file",
    path: prefix + file.path,
    content: file.content,
  }));
  await writeFile(path, await makeLayerTar([...entries, ...links]));
}

export type DockerArchiveStyle = "classic" | "oci-blobs" | "gzip-layers";

/** Returns the layer as a docker archive of that style stores it. */
export function storedLayerOf(
  style: DockerArchiveStyle,
  layer: TestImage["layers"][number],
): ImageBlob {
  return style === "gzip-layers" ? layer : uncompressedLayerOf(layer);
}

/**
 * Returns the files of a `docker save` archive. The "classic" style stores
 * `<id>/layer.tar` and `<hex>.json` as docker did before version 25. The
 * "oci-blobs" style stores `blobs/sha256/<hex>` and an OCI layout view, as
 * docker 25 does. The "gzip-layers" style is classic with gzip-compressed
 * layer members.
 */
export function dockerArchiveFiles(set: TestImageSet, style: DockerArchiveStyle): StoredFile[] {
  const entries: object[] = [];
  const blobs: StoredFile[] = [];
  for (const image of set.images) {
    const configPath =
      style === "oci-blobs"
        ? blobPath(image.config.digest)
        : `${image.config.digest.slice(7)}.json`;
    blobs.push({ path: configPath, content: image.config.bytes });
    const layerPaths = image.layers.map((layer, position) => {
      const stored = storedLayerOf(style, layer);
      const path =
        style === "oci-blobs"
          ? blobPath(stored.digest)
          : `${legacyLayerId(image, position)}/layer.tar`;
      blobs.push({ path, content: stored.bytes });
      return path;
    });
    entries.push({
      Config: configPath,
      RepoTags: image.names.length ? image.names : null,
      Layers: layerPaths,
    });
  }

  const files: StoredFile[] = [
    { path: "manifest.json", content: Buffer.from(JSON.stringify(entries)) },
  ];
  if (style === "oci-blobs") files.push(...dockerOciView(set));
  return [...files, ...blobs];
}

/** Returns a made-up layer ID, unique per image and position, because docker's v1 IDs are no content digests. */
function legacyLayerId(image: TestImage, position: number): string {
  return sha256Digest(`${image.config.digest} ${position}`).slice(7);
}

/** Returns the OCI manifests, `index.json` and `oci-layout` that docker save writes beside `manifest.json`. */
function dockerOciView(set: TestImageSet): StoredFile[] {
  const manifests = set.images.map((image) => ({ image, manifest: dockerOciManifestOf(image) }));
  const index = {
    schemaVersion: 2,
    mediaType: mediaTypes.ociIndex,
    manifests: manifests.map(({ image, manifest }) => ({
      mediaType: manifest.mediaType,
      digest: manifest.digest,
      size: manifest.size,
      annotations: image.names.length ? { "io.containerd.image.name": image.names[0]! } : {},
    })),
  };
  return [
    { path: "oci-layout", content: Buffer.from(JSON.stringify({ imageLayoutVersion: "1.0.0" })) },
    { path: "index.json", content: Buffer.from(JSON.stringify(index)) },
    ...manifests.map(({ manifest }) => ({
      path: blobPath(manifest.digest),
      content: manifest.bytes,
    })),
  ];
}

/** Builds the OCI manifest of an image whose layers are stored uncompressed. */
export function dockerOciManifestOf(image: TestImage): ImageBlob {
  return makeJsonBlob(mediaTypes.ociManifest, {
    schemaVersion: 2,
    mediaType: mediaTypes.ociManifest,
    config: {
      mediaType: image.config.mediaType,
      digest: image.config.digest,
      size: image.config.size,
    },
    layers: image.layers.map(uncompressedLayerOf).map((layer) => ({
      mediaType: layer.mediaType,
      digest: layer.digest,
      size: layer.size,
    })),
  });
}

/**
 * Returns the digest of the Docker schema 2 manifest that a docker archive
 * source must build for an image: three-space indented JSON with the fields in the order
 * of Docker's specification. Pinning it keeps the synthesized bytes stable.
 */
export function expectedDockerManifestDigest(image: TestImage, style: DockerArchiveStyle): string {
  const layerType =
    style === "gzip-layers"
      ? mediaTypes.dockerLayerGzip
      : "application/vnd.docker.image.rootfs.diff.tar";
  const body = {
    schemaVersion: 2,
    mediaType: mediaTypes.dockerManifest,
    config: {
      mediaType: mediaTypes.dockerConfig,
      size: image.config.size,
      digest: image.config.digest,
    },
    layers: image.layers.map((layer) => {
      const stored = storedLayerOf(style, layer);
      return { mediaType: layerType, size: stored.size, digest: sha256Digest(stored.bytes) };
    }),
  };
  return sha256Digest(JSON.stringify(body, null, 3));
}
