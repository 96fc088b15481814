/**
 * Media types of the OCI image spec (v1.1) and of Docker's manifest formats
 * (schema 2, and the deprecated schema 1).
 */
export const MediaType = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociEmpty: "application/vnd.oci.empty.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  ociForeignLayer: "application/vnd.oci.image.layer.nondistributable.v1.tar",
  ociForeignLayerGzip: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  ociForeignLayerZstd: "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",

  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  dockerForeignLayerGzip: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",

  /** Schema 1 with a JWS signature, which docker push produced until 2017. */
  dockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
  dockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
} as const;

/**
 * The Accept list for manifest requests: every kind regdav parses. Without
 * the schema 1 types, a registry that still stores a schema 1 manifest
 * responds with 404 or converts it.
 */
export const manifestMediaTypes: readonly string[] = [
  MediaType.ociIndex,
  MediaType.ociManifest,
  MediaType.dockerManifestList,
  MediaType.dockerManifest,
  MediaType.dockerSchema1Signed,
  MediaType.dockerSchema1,
];

const imageConfigTypes = new Set<string>([MediaType.ociConfig, MediaType.dockerConfig]);
const indexTypes = new Set<string>([MediaType.ociIndex, MediaType.dockerManifestList]);
const imageManifestTypes = new Set<string>([MediaType.ociManifest, MediaType.dockerManifest]);
const schema1Types = new Set<string>([MediaType.dockerSchema1Signed, MediaType.dockerSchema1]);

/** Tests for a config that describes a runnable image, as opposed to an artifact's config. */
export function isImageConfigType(mediaType: string): boolean {
  return imageConfigTypes.has(mediaType);
}

export function isIndexType(mediaType: string): boolean {
  return indexTypes.has(mediaType);
}

export function isImageManifestType(mediaType: string): boolean {
  return imageManifestTypes.has(mediaType);
}

export function isSchema1Type(mediaType: string): boolean {
  return schema1Types.has(mediaType);
}

/** Strips parameters and case: `Application/JSON; charset=utf-8` gives `application/json`. */
export function essenceOf(contentType: string): string {
  return contentType.split(";")[0]!.trim().toLowerCase();
}

/** Content types that do not identify the kind of manifest. */
const genericTypes = new Set(["", "application/json", "application/octet-stream", "text/plain"]);

/**
 * Returns a manifest's media type: the body's `mediaType` when present, a
 * schema 1 type for `schemaVersion` 1 (signed when it has signatures), else
 * the Content-Type. When that is missing or generic, an OCI type is derived
 * from the shape (`manifests` for an index, `config` for a manifest).
 */
export function mediaTypeOfManifest(bytes: Buffer, contentType: string | undefined): string {
  const json = parseObject(bytes);
  if (json?.schemaVersion === 1) {
    const signed = Array.isArray(json.signatures) && json.signatures.length > 0;
    return signed ? MediaType.dockerSchema1Signed : MediaType.dockerSchema1;
  }
  if (typeof json?.mediaType === "string" && json.mediaType !== "") return json.mediaType;

  const essence = contentType === undefined ? "" : essenceOf(contentType);
  if (!genericTypes.has(essence)) return essence;
  if (json?.manifests !== undefined) return MediaType.ociIndex;
  if (json?.config !== undefined) return MediaType.ociManifest;
  return essence || "application/octet-stream";
}

function parseObject(bytes: Buffer): Record<string, unknown> | undefined {
  try {
    const json: unknown = JSON.parse(bytes.toString("utf8"));
    return typeof json === "object" && json !== null
      ? (json as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
