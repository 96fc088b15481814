import {
  gzip,
  makeBlob,
  makeDockerManifest,
  makeIndex,
  makeLayerTar,
  makeOciManifest,
  mediaTypes,
  sha256Digest,
  type ImageBlob,
  type ImageFormat,
  type LayerBlob,
  type Platform,
} from "./image-builder.js";
import { pushBlob, pushManifest, type PushOptions } from "./registry-http.js";
import { makeSchema1Payload, signSchema1, type Schema1Layer } from "./schema1.js";

export { pushBlob, pushManifest, type PushOptions } from "./registry-http.js";
export * from "./layout-push.js";

export interface ImageContent {
  /** Bottom layer first. */
  layers: readonly ImageBlob[];
  config: ImageBlob;
  format: ImageFormat;
}

export interface PushedImage {
  digest: string;
  manifest: ImageBlob;
}

/** Builds the OCI or Docker schema2 manifest of an image. */
export function makeImageManifest(image: ImageContent): ImageBlob {
  const parts = { config: image.config, layers: image.layers };
  return image.format === "oci" ? makeOciManifest(parts) : makeDockerManifest(parts);
}

/**
 * Pushes the layers, the config and a manifest of the given format, under
 * `reference` (a tag, or the manifest's own digest). Throws when the
 * registry's digest differs from the manifest's.
 */
export async function pushImage(
  host: string,
  repository: string,
  reference: string,
  image: ImageContent,
  options: PushOptions = {},
): Promise<PushedImage> {
  for (const blob of [...image.layers, image.config]) {
    await pushBlob(host, repository, blob.bytes, options);
  }

  const manifest = makeImageManifest(image);
  const { bytes, mediaType } = manifest;
  const digest = await pushManifest(host, repository, reference, bytes, mediaType, options);
  checkDigest(digest, manifest, `${repository}:${reference}`);
  return { digest, manifest };
}

export interface PlatformImage {
  platform: Platform;
  layers: readonly ImageBlob[];
  config: ImageBlob;
}

export interface IndexContent {
  images: readonly PlatformImage[];
  /** "oci" pushes an OCI image index, "docker" a Docker manifest list. */
  format: ImageFormat;
  annotations?: Record<string, string>;
}

export interface PushedIndex {
  digest: string;
  index: ImageBlob;
  /** The pushed platform manifests, in the order given. */
  images: PushedImage[];
}

/**
 * Pushes each platform's image under its digest, then an index naming them
 * under `tag`.
 */
export async function pushIndex(
  host: string,
  repository: string,
  tag: string,
  content: IndexContent,
  options: PushOptions = {},
): Promise<PushedIndex> {
  const images: PushedImage[] = [];
  const entries = [];
  for (const platformImage of content.images) {
    const image = { ...platformImage, format: content.format };
    const reference = makeImageManifest(image).digest;
    const pushed = await pushImage(host, repository, reference, image, options);
    images.push(pushed);
    entries.push({ manifest: pushed.manifest, platform: platformImage.platform });
  }

  const index = makeIndex({
    manifests: entries,
    format: content.format,
    ...(content.annotations !== undefined ? { annotations: content.annotations } : {}),
  });
  const digest = await pushManifest(host, repository, tag, index.bytes, index.mediaType, options);
  checkDigest(digest, index, `${repository}:${tag}`);
  return { digest, index, images };
}

export interface PushedSchema1Image {
  /** The digest the registry reports: the SHA-256 of the unsigned payload. */
  digest: string;
  /** The signed manifest as pushed. */
  signed: Buffer;
  /** The unsigned manifest JSON that was signed. */
  payload: Buffer;
  /** The layers as listed in the manifest, bottom first, the empty throwaway layer last. */
  layers: Schema1Layer[];
}

/**
 * Pushes a signed Docker schema1 image: the given gzip layers (bottom first)
 * and, on top, an empty throwaway layer like the one Docker made for a CMD
 * step. The registry must be started with `schema1: true`.
 */
export async function pushSchema1Image(
  host: string,
  repository: string,
  tag: string,
  layers: readonly LayerBlob[],
  options: PushOptions = {},
): Promise<PushedSchema1Image> {
  const schema1Layers: Schema1Layer[] = layers.map((layer, i) => ({
    layer,
    throwaway: false,
    createdBy: `#(nop) ADD file:layer${i} in / `,
  }));
  schema1Layers.push({
    layer: await makeEmptyGzipLayer(),
    throwaway: true,
    createdBy: '#(nop)  CMD ["/bin/sh"]',
  });
  for (const entry of schema1Layers) {
    await pushBlob(host, repository, entry.layer.bytes, options);
  }

  const payload = makeSchema1Payload({ name: repository, tag, layers: schema1Layers });
  const signed = signSchema1(payload);
  const digest = await pushManifest(
    host,
    repository,
    tag,
    signed,
    mediaTypes.schema1Signed,
    options,
  );
  if (digest !== sha256Digest(payload)) {
    throw new Error(
      `registry reported ${digest} for schema1 ${repository}:${tag}, ` +
        `but its payload hashes to ${sha256Digest(payload)}`,
    );
  }
  return { digest, signed, payload, layers: schema1Layers };
}

/** Builds a gzip tar with no entries, the layer schema1 lists for steps that change no files. */
async function makeEmptyGzipLayer(): Promise<LayerBlob> {
  const emptyTar = await makeLayerTar([]);
  return {
    ...makeBlob(mediaTypes.dockerLayerGzip, gzip(emptyTar)),
    diffId: sha256Digest(emptyTar),
    uncompressed: emptyTar,
  };
}

function checkDigest(registryDigest: string, manifest: ImageBlob, reference: string): void {
  if (registryDigest !== manifest.digest) {
    throw new Error(
      `registry reported ${registryDigest} for ${reference}, ` +
        `but the pushed manifest hashes to ${manifest.digest}`,
    );
  }
}
