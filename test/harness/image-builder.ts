import { createHash } from "node:crypto";

import {
  compress,
  defaultMtime,
  makeLayerTar,
  type Compression,
  type TarEntry,
} from "./layer-tar.js";

export * from "./layer-tar.js";

export const mediaTypes = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  schema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
} as const;

export type ImageFormat = "oci" | "docker";

/** Content with the descriptor fields that point at it. */
export interface ImageBlob {
  mediaType: string;
  /** `sha256:<hex>` of `bytes`. */
  digest: string;
  size: number;
  bytes: Buffer;
}

export interface LayerBlob extends ImageBlob {
  /** `sha256:<hex>` of the uncompressed tar, as listed in the config's rootfs.diff_ids. */
  diffId: string;
  uncompressed: Buffer;
  /** The entries the tar was built from, when built by `makeLayer`. */
  entries?: readonly TarEntry[];
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  "os.version"?: string;
  "os.features"?: string[];
}

export function sha256Digest(bytes: Buffer | string): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** Describes bytes as a blob of the given media type. */
export function makeBlob(mediaType: string, bytes: Buffer): ImageBlob {
  return { mediaType, digest: sha256Digest(bytes), size: bytes.length, bytes };
}

/** Serializes a JSON document (a manifest, index or config) as compact JSON. */
export function makeJsonBlob(mediaType: string, document: unknown): ImageBlob {
  return makeBlob(mediaType, Buffer.from(JSON.stringify(document)));
}

/** Returns the media type of a layer in a manifest of the given format. */
export function layerMediaType(format: ImageFormat, compression: Compression): string {
  if (format === "docker" && compression === "gzip") return mediaTypes.dockerLayerGzip;
  if (format === "docker") {
    throw new Error(
      `Docker schema2 has no standard media type for ${compression} layers: ` +
        'use gzip or format "oci"',
    );
  }
  if (compression === "gzip") return mediaTypes.ociLayerGzip;
  if (compression === "zstd") return mediaTypes.ociLayerZstd;
  return mediaTypes.ociLayer;
}

export interface LayerOptions {
  /** Default "gzip". */
  compression?: Compression;
  /** Default "oci". */
  format?: ImageFormat;
  /** Overrides the media type derived from format and compression. */
  mediaType?: string;
}

/** Builds a tar from `entries`, compresses it and describes it as a layer. */
export async function makeLayer(
  entries: readonly TarEntry[],
  options: LayerOptions = {},
): Promise<LayerBlob> {
  const compression = options.compression ?? "gzip";
  const mediaType = options.mediaType ?? layerMediaType(options.format ?? "oci", compression);
  const uncompressed = await makeLayerTar(entries);
  const bytes = await compress(uncompressed, compression);
  return {
    ...makeBlob(mediaType, bytes),
    diffId: sha256Digest(uncompressed),
    uncompressed,
    entries,
  };
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfigOptions {
  /** The layers bottom first; only their diffIds are used. */
  layers: readonly Pick<LayerBlob, "diffId">[];
  /** Default "oci". */
  format?: ImageFormat;
  /** Default linux/amd64. */
  platform?: Platform;
  /** The `config` object: Env, Cmd, Entrypoint, WorkingDir, Labels and so on. */
  config?: Record<string, unknown>;
  /** Default 2024-01-01T00:00:00Z. */
  created?: string;
  /**
   * Default: one entry per layer. Entries with `empty_layer: true` add no
   * layer; the others must match `layers` in number.
   */
  history?: readonly HistoryEntry[];
}

/** Builds an image configuration whose rootfs.diff_ids match the layers. */
export function makeImageConfig(options: ImageConfigOptions): ImageBlob {
  const created = options.created ?? defaultMtime.toISOString();
  const history: readonly HistoryEntry[] =
    options.history ??
    options.layers.map((_, index) => ({ created, created_by: `regdav test layer ${index}` }));
  const nonEmptyCount = history.filter((entry) => entry.empty_layer !== true).length;
  if (nonEmptyCount !== options.layers.length) {
    throw new Error(
      `image config history has ${nonEmptyCount} entries that add a layer, ` +
        `but there are ${options.layers.length} layers`,
    );
  }

  const platform = options.platform ?? { os: "linux", architecture: "amd64" };
  const document = {
    created,
    ...platform,
    config: options.config ?? {
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    },
    rootfs: { type: "layers", diff_ids: options.layers.map((layer) => layer.diffId) },
    history,
  };
  const mediaType = options.format === "docker" ? mediaTypes.dockerConfig : mediaTypes.ociConfig;
  return makeJsonBlob(mediaType, document);
}

/** Returns the descriptor of a blob, without its bytes. */
export function descriptorOf(blob: ImageBlob): { mediaType: string; digest: string; size: number } {
  return { mediaType: blob.mediaType, digest: blob.digest, size: blob.size };
}

export interface OciManifestOptions {
  config: ImageBlob;
  layers: readonly ImageBlob[];
  annotations?: Record<string, string>;
  artifactType?: string;
  subject?: ImageBlob;
}

/** Builds an OCI image manifest, with optional artifactType, subject and annotations. */
export function makeOciManifest(options: OciManifestOptions): ImageBlob {
  const document: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: mediaTypes.ociManifest,
  };
  if (options.artifactType !== undefined) document.artifactType = options.artifactType;
  document.config = descriptorOf(options.config);
  document.layers = options.layers.map(descriptorOf);
  if (options.subject !== undefined) document.subject = descriptorOf(options.subject);
  if (options.annotations !== undefined) document.annotations = options.annotations;
  return makeJsonBlob(mediaTypes.ociManifest, document);
}

/** Builds a Docker image manifest, schema version 2. */
export function makeDockerManifest(options: {
  config: ImageBlob;
  layers: readonly ImageBlob[];
}): ImageBlob {
  return makeJsonBlob(mediaTypes.dockerManifest, {
    schemaVersion: 2,
    mediaType: mediaTypes.dockerManifest,
    config: descriptorOf(options.config),
    layers: options.layers.map(descriptorOf),
  });
}

export interface IndexEntry {
  manifest: ImageBlob;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface IndexOptions {
  manifests: readonly IndexEntry[];
  /** "oci" builds an OCI image index, "docker" a Docker manifest list. Default "oci". */
  format?: ImageFormat;
  annotations?: Record<string, string>;
}

/** Builds an OCI image index or a Docker manifest list. */
export function makeIndex(options: IndexOptions): ImageBlob {
  const mediaType =
    options.format === "docker" ? mediaTypes.dockerManifestList : mediaTypes.ociIndex;
  const manifests = options.manifests.map((entry) => {
    const descriptor: Record<string, unknown> = descriptorOf(entry.manifest);
    if (entry.platform !== undefined) descriptor.platform = entry.platform;
    if (entry.annotations !== undefined) descriptor.annotations = entry.annotations;
    return descriptor;
  });

  const document: Record<string, unknown> = { schemaVersion: 2, mediaType, manifests };
  if (options.annotations !== undefined) document.annotations = options.annotations;
  return makeJsonBlob(mediaType, document);
}
