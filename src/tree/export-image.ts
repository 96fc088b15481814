import { readFileRange } from "../cache/blob-store.js";
import { bytesPart, type ContentPart } from "../export/concatenated-content.js";
import { appliedLayers, convertSchema1, type ConvertedSchema1 } from "../export/schema1-image.js";
import type { TarLayerSummary } from "../layer/layer-index.js";
import type { Descriptor, ImageManifest, Schema1Manifest } from "../manifest/manifest-types.js";
import type { BlobDescriptor } from "../source/image-source.js";
import { downloadBlob } from "./blob-file.js";
import type { ImageLocation } from "./image-folder.js";
import { indexLayers, readLayerContent, tarIndexOf } from "./layers-folder.js";

/** How many layers are indexed at once when an export first needs them. */

/**
 * An image ready to be written as a docker load archive: its config and its
 * layers with their indexes, which give each layer's diff ID and
 * uncompressed size. Getting one indexes every layer once.
 */
export interface ExportImage {
  config: { digest: string; content: ContentPart };
  /** Base first, as the config's rootfs.diff_ids lists them. */
  layers: { descriptor: BlobDescriptor; index: TarLayerSummary }[];
}

/** Indexes the layers of an OCI or Docker image manifest and describes its config. */
export async function exportImageOf(
  location: ImageLocation,
  manifest: ImageManifest,
): Promise<ExportImage> {
  const indexes = await indexLayers(location, manifest.layers, tarIndexOf);
  const layers = manifest.layers.map((descriptor, position) => ({
    descriptor,
    index: indexes[position]!,
  }));
  return {
    config: { digest: manifest.config.digest, content: blobPart(location, manifest.config) },
    layers,
  };
}

/**
 * Indexes the applied layers of a schema 1 manifest and converts it, so the
 * synthesized config carries the diff IDs that the layers really have.
 */
export async function convertedSchema1Of(
  location: ImageLocation,
  manifest: Schema1Manifest,
): Promise<{ converted: ConvertedSchema1; image: ExportImage }> {
  const descriptors: BlobDescriptor[] = appliedLayers(manifest).map((layer) => ({
    digest: layer.digest,
  }));
  const indexes = await indexLayers(location, descriptors, tarIndexOf);
  const converted = convertSchema1(
    manifest,
    indexes.map((index) => ({
      digest: index.digest,
      size: index.compressedSize,
      diffId: index.diffId,
      compression: index.compression,
    })),
  );

  const layers = descriptors.map((descriptor, position) => {
    const index = indexes[position]!;
    return { descriptor: { ...descriptor, size: index.compressedSize }, index };
  });
  const config = {
    digest: converted.configDescriptor.digest,
    content: bytesPart(converted.config),
  };
  return { converted, image: { config, layers } };
}

/** Makes a part of a blob's raw bytes, downloaded into the cache on first read. */
export function blobPart(location: ImageLocation, descriptor: Descriptor): ContentPart {
  const { context, source, repository } = location;
  return {
    size: descriptor.size,
    open: async (start, end) => {
      const path = await downloadBlob(context, source, repository, descriptor);
      return readFileRange(path, start, end);
    },
  };
}

/** Makes a part of a layer's uncompressed tar stream, read through the layer store. */
export function layerTarPart(location: ImageLocation, index: TarLayerSummary): ContentPart {
  return {
    size: index.uncompressedSize,
    open: (start, end) => {
      const layer = { digest: index.digest, size: index.compressedSize };
      return readLayerContent(location, layer, start, end - start + 1, { tarOffsets: true });
    },
  };
}

