import { MediaType } from "../manifest/media-types.js";
import type { Descriptor } from "../manifest/manifest-types.js";

/**
 * The two fixed files of an OCI image layout: `oci-layout`, which marks the
 * folder as a layout, and `index.json`, which names the manifests the
 * layout contains. Blobs lie at `blobs/<algorithm>/<hex>`.
 */

/** The annotation that names a manifest of a layout, as `skopeo copy oci:DIR:NAME` selects it. */
export const refNameAnnotation = "org.opencontainers.image.ref.name";

export const ociLayoutFile = Buffer.from(JSON.stringify({ imageLayoutVersion: "1.0.0" }));

/** Builds `index.json` for a layout of one manifest, named `refName` (a tag) when given. */
export function layoutIndexFile(manifest: Descriptor, refName?: string): Buffer {
  const entry: Record<string, unknown> = {
    mediaType: manifest.mediaType,
    digest: manifest.digest,
    size: manifest.size,
  };
  if (refName !== undefined) entry.annotations = { [refNameAnnotation]: refName };

  const index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [entry] };
  return Buffer.from(JSON.stringify(index));
}
