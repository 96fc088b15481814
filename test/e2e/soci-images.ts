import { makeBlob, makeImageConfig, makeJsonBlob, mediaTypes, type ImageBlob } from "../harness/image-builder.js";
import { pushBlob, pushManifest } from "../harness/push.js";

// Pushes SOCI index artifacts the way the soci CLI lays them out: zTOC blobs
// as layers of an OCI manifest, each annotated with the image layer it describes.

export const SOCI_V1_ARTIFACT_TYPE = "application/vnd.amazon.soci.index.v1+json";
export const SOCI_V2_CONFIG_TYPE = "application/vnd.amazon.soci.index.v2+json";
export const SOCI_INDEX_DIGEST = "com.amazon.soci.index-digest";
export const SOCI_LAYER_DIGEST = "com.amazon.soci.image-layer-digest";

/** The digest of `{}`, the config of SOCI index manifests. */
const emptyConfig = makeBlob(SOCI_V1_ARTIFACT_TYPE, Buffer.from("{}"));

export interface GzipLayer extends ImageBlob {
  diffId: string;
}

/** Pushes a one-layer OCI image with the given manifest annotations and returns its manifest. */
export async function pushSociImage(
  host: string,
  repository: string,
  tag: string,
  layer: GzipLayer,
  annotations?: Record<string, string>,
): Promise<ImageBlob> {
  const config = makeImageConfig({ layers: [layer] });
  await pushBlob(host, repository, layer.bytes);
  await pushBlob(host, repository, config.bytes);
  const document: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: mediaTypes.ociManifest,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
  };
  if (annotations) document.annotations = annotations;
  const manifest = makeJsonBlob(mediaTypes.ociManifest, document);
  await pushManifest(host, repository, tag, manifest.bytes, manifest.mediaType);
  return manifest;
}

export interface SociIndexOptions {
  /** "v1" gives the index a subject and the v1 artifactType; "v2" gives neither, as in SOCI-enabled images. */
  version: "v1" | "v2";
  /** The image manifest a v1 index refers to. */
  subject?: ImageBlob;
  /** zTOC bytes by the digest of the image layer they describe. */
  ztocs: ReadonlyMap<string, Buffer>;
}

/** Pushes the zTOC blobs and the SOCI index manifest by digest, and returns the manifest. */
export async function pushSociIndex(host: string, repository: string, options: SociIndexOptions): Promise<ImageBlob> {
  const layers = [];
  for (const [layerDigest, bytes] of options.ztocs) {
    const ztoc = makeBlob("application/octet-stream", bytes);
    await pushBlob(host, repository, ztoc.bytes);
    layers.push({
      mediaType: ztoc.mediaType,
      digest: ztoc.digest,
      size: ztoc.size,
      annotations: {
        [SOCI_LAYER_DIGEST]: layerDigest,
        "com.amazon.soci.image-layer-mediaType": mediaTypes.ociLayerGzip,
      },
    });
  }
  const configType = options.version === "v1" ? SOCI_V1_ARTIFACT_TYPE : SOCI_V2_CONFIG_TYPE;
  await pushBlob(host, repository, emptyConfig.bytes);
  const document: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: mediaTypes.ociManifest,
    config: { mediaType: configType, digest: emptyConfig.digest, size: emptyConfig.size },
    layers,
  };
  if (options.version === "v1") {
    document.artifactType = SOCI_V1_ARTIFACT_TYPE;
    const subject = options.subject!;
    document.subject = { mediaType: subject.mediaType, digest: subject.digest, size: subject.size };
  }
  const index = makeJsonBlob(mediaTypes.ociManifest, document);
  await pushManifest(host, repository, index.digest, index.bytes, index.mediaType);
  return index;
}

/**
 * Tags an image index of the given referrers with the referrers tag of
 * `subject` (`sha256-<hex>`), as clients do for registries without the
 * referrers API, such as the distribution registry 2.8 the tests run.
 */
export async function pushReferrersTag(host: string, repository: string, subject: ImageBlob, referrers: readonly ImageBlob[]) {
  const manifests = referrers.map((referrer) => ({
    mediaType: referrer.mediaType,
    digest: referrer.digest,
    size: referrer.size,
    artifactType: SOCI_V1_ARTIFACT_TYPE,
  }));
  const index = makeJsonBlob(mediaTypes.ociIndex, { schemaVersion: 2, mediaType: mediaTypes.ociIndex, manifests });
  await pushManifest(host, repository, subject.digest.replace(":", "-"), index.bytes, index.mediaType);
}
