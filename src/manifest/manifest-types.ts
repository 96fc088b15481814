/**
 * The parsed forms of the four kinds of manifest regdav shows. An index is an
 * OCI index or a Docker manifest list, and an image manifest is OCI or Docker
 * schema 2. The others are Docker schema 1 manifests and artifacts, which are
 * OCI manifests that do not describe a runnable image.
 */
export type ParsedManifest = IndexManifest | ImageManifest | Schema1Manifest | ArtifactManifest;

/** A content descriptor: how a manifest refers to a blob or another manifest. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  /** Bytes. */
  size: number;
  /** Foreign-layer URLs, when the blob may be fetched from elsewhere. */
  urls?: string[];
  annotations?: Record<string, string>;
  artifactType?: string;
}

/** The platform an image is built for, as in an index entry. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  /** `os.version` in the JSON, such as `10.0.17763.1234` for Windows images. */
  osVersion?: string;
  /** `os.features` in the JSON. */
  osFeatures?: string[];
  features?: string[];
}

export interface IndexEntry extends Descriptor {
  platform?: Platform;
}

interface ManifestCommon {
  /** Digest of the manifest, from the fetch. */
  digest: string;
  /** From the body's `mediaType`, or derived from its shape when the field is absent. */
  mediaType: string;
  annotations: Record<string, string>;
}

export interface IndexManifest extends ManifestCommon {
  kind: "index";
  /** Entries in the order of the index. */
  manifests: IndexEntry[];
  artifactType?: string;
  subject?: Descriptor;
}

export interface ImageManifest extends ManifestCommon {
  kind: "image";
  format: "oci" | "docker";
  config: Descriptor;
  /** Base layer first, as in the manifest. */
  layers: Descriptor[];
  subject?: Descriptor;
}

/** An OCI manifest with an `artifactType`, or whose config is not an image config. */
export interface ArtifactManifest extends ManifestCommon {
  kind: "artifact";
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
}

export interface Schema1Manifest extends ManifestCommon {
  kind: "schema1";
  name: string;
  tag: string;
  architecture: string;
  /** Whether the manifest carries JWS signatures (the `+prettyjws` form). */
  signed: boolean;
  /** As in the manifest: newest layer first. */
  fsLayers: { blobSum: string }[];
  /** As in the manifest: one entry per fsLayer, newest first. */
  history: Schema1History[];
  /** The same layers base first, the order of every other format; none is skipped. */
  layers: Schema1Layer[];
  /**
   * The newest history entry's v1Compatibility JSON, as written. It carries
   * the image's configuration (env, entrypoint, labels), so it serves as
   * the image's config.
   */
  configJson: string;
}

export interface Schema1History {
  /** The raw JSON string from the manifest. */
  v1CompatibilityJson: string;
  /** That string parsed. */
  v1Compatibility: V1Compatibility;
}

/** The fields of a v1Compatibility object that regdav reads; the rest are kept as they are. */
export interface V1Compatibility {
  id?: string;
  parent?: string;
  created?: string;
  /** True for a layer that adds no files, such as one made by ENV or CMD. */
  throwaway?: boolean;
  [field: string]: unknown;
}

export interface Schema1Layer {
  digest: string;
  /**
   * Schema 1 does not give layer media types. docker pushed them as gzip
   * tars, so this is the Docker gzip layer type.
   */
  mediaType: string;
  /** Whether its history entry marks it throwaway. */
  throwaway: boolean;
}
