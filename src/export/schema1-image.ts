import { computeDigest } from "../reference/digest.js";
import { MediaType } from "../manifest/media-types.js";
import type { Descriptor, Schema1Manifest } from "../manifest/manifest-types.js";

/**
 * Conversion of a Docker schema 1 manifest into an image config and an OCI
 * image manifest, as docker converts one on pull (MakeConfigFromV1Config and
 * HistoryFromConfig in moby's image/v1). A schema 1 manifest has no config
 * blob and no diff IDs. So the config is the newest layer's v1Compatibility
 * without its v1 fields (`id`, `parent` and the like), with `rootfs` and
 * `history` added. Throwaway layers, which docker never applies, are left
 * out of the layers and marked `empty_layer` in the history.
 *
 * NOTE: for images pushed by docker older than 1.8.3, docker also drops the
 * v1Compatibility fields its own struct does not know; this keeps them.
 */
export interface Schema1Layer {
  /** The layer blob, as the manifest's blobSum names it. */
  digest: string;
  /** The blob's size in bytes, as stored in the registry. */
  size: number;
  /** `sha256:<hex>` of the uncompressed tar. */
  diffId: string;
  compression: "gzip" | "zstd" | "none";
}

export interface ConvertedSchema1 {
  config: Buffer;
  configDescriptor: Descriptor;
  /** An OCI image manifest naming `config` and the applied layers. */
  manifest: Buffer;
  manifestDescriptor: Descriptor;
  /** The applied layers, base first. */
  layers: readonly Schema1Layer[];
}

/** v1Compatibility fields that describe the v1 layer chain, not the image. */
const v1OnlyFields = ["id", "parent", "Size", "parent_id", "layer_id", "throwaway"];

/** Returns the layers of `manifest` that docker applies: those not marked throwaway, base first. */
export function appliedLayers(manifest: Schema1Manifest): { digest: string }[] {
  return manifest.layers.filter((layer) => !layer.throwaway);
}

/**
 * Converts a schema 1 manifest. `layers` describes each of its applied
 * layers (see appliedLayers), base first, with the diff ID found by reading
 * the layer, so the config matches the layers exactly.
 */
export function convertSchema1(
  manifest: Schema1Manifest,
  layers: readonly Schema1Layer[],
): ConvertedSchema1 {
  const config = Buffer.from(JSON.stringify(schema1Config(manifest, layers)));
  const configDescriptor: Descriptor = {
    mediaType: MediaType.ociConfig,
    digest: computeDigest(config),
    size: config.length,
  };

  const document = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: configDescriptor,
    layers: layers.map((layer) => ({
      mediaType: layerMediaType(layer.compression),
      digest: layer.digest,
      size: layer.size,
    })),
  };
  const bytes = Buffer.from(JSON.stringify(document));
  const manifestDescriptor: Descriptor = {
    mediaType: MediaType.ociManifest,
    digest: computeDigest(bytes),
    size: bytes.length,
  };
  return { config, configDescriptor, manifest: bytes, manifestDescriptor, layers };
}

function schema1Config(manifest: Schema1Manifest, layers: readonly Schema1Layer[]) {
  const newest = manifest.history[0]?.v1Compatibility ?? {};
  const config: Record<string, unknown> = { ...newest };
  for (const field of v1OnlyFields) delete config[field];

  config.rootfs = { type: "layers", diff_ids: layers.map((layer) => layer.diffId) };
  config.history = [...manifest.history].reverse().map((entry) => historyOf(entry.v1Compatibility));
  return config;
}

/** Builds one `history` entry of the config from a layer's v1Compatibility. */
function historyOf(v1: Schema1Manifest["history"][number]["v1Compatibility"]) {
  const entry: Record<string, unknown> = {};
  if (typeof v1.created === "string") entry.created = v1.created;
  if (typeof v1.author === "string") entry.author = v1.author;

  const command = (v1.container_config as { Cmd?: unknown } | undefined)?.Cmd;
  if (Array.isArray(command) && command.every((part) => typeof part === "string")) {
    entry.created_by = command.join(" ");
  }
  if (typeof v1.comment === "string") entry.comment = v1.comment;
  if (v1.throwaway === true) entry.empty_layer = true;
  return entry;
}

function layerMediaType(compression: Schema1Layer["compression"]): string {
  if (compression === "gzip") return MediaType.ociLayerGzip;
  if (compression === "zstd") return MediaType.ociLayerZstd;
  return MediaType.ociLayer;
}
