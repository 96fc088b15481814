import { LRUCache } from "lru-cache";

import { log } from "../log.js";
import type { ZtocSource } from "../cache/layer-store.js";
import type { Descriptor } from "../manifest/manifest-types.js";
import { parseManifest } from "../manifest/parse.js";
import { isDigest } from "../reference/digest.js";
import type { BlobDescriptor } from "../source/image-source.js";
import type { ImageLocation } from "./image-folder.js";
import { listReferrers } from "./referrers-lookup.js";

/** Annotation of a SOCI-enabled image manifest (SOCI index manifest v2) that names its SOCI index. */
export const SOCI_INDEX_DIGEST_ANNOTATION = "com.amazon.soci.index-digest";
/** artifactType of a SOCI index manifest v1, found through the referrers of the image manifest. */
export const SOCI_INDEX_V1_ARTIFACT_TYPE = "application/vnd.amazon.soci.index.v1+json";
/** Annotation of each zTOC descriptor in a SOCI index: the digest of the image layer it describes. */
export const SOCI_LAYER_DIGEST_ANNOTATION = "com.amazon.soci.image-layer-digest";

/** How long the zTOCs found for an image are reused: a v1 index can be added or removed at any time. */
const ZTOCS_TTL_MS = 30_000;

const found = new LRUCache<string, Promise<Map<string, BlobDescriptor>>>({ max: 1000, ttl: ZTOCS_TTL_MS });

export interface SociImage {
  /** Digest of the image manifest. */
  digest: string;
  /** The image manifest's own annotations. */
  annotations: Record<string, string>;
}

/**
 * Returns the zTOC source of one layer of an image. The image's SOCI index
 * is the one its manifest names in `com.amazon.soci.index-digest` (a
 * SOCI-enabled image, index manifest v2), else the first referrer of the
 * image manifest with the v1 artifactType. The lookup runs once per image,
 * and only when a layer without a listing requests its zTOC.
 */
export function ztocSourceOf(location: ImageLocation, image: SociImage, layerDigest: string): ZtocSource {
  const { source, repository } = location;
  return {
    find: async () => (await ztocsOf(location, image)).get(layerDigest),
    open: (ztoc) => source.openBlob(repository, ztoc),
  };
}

function ztocsOf(location: ImageLocation, image: SociImage): Promise<Map<string, BlobDescriptor>> {
  const key = `${location.source.name}/${location.repository}@${image.digest}`;
  let ztocs = found.get(key);
  if (!ztocs) {
    ztocs = lookUpZtocs(location, image).catch((error: unknown) => {
      // A failed lookup only costs the fast listing, so the layer is indexed by its pass.
      log.warn("SOCI index lookup failed, indexing layers whole", { image: key, error: String(error) });
      found.delete(key);
      return new Map<string, BlobDescriptor>();
    });
    found.set(key, ztocs);
  }
  return ztocs;
}

async function lookUpZtocs(location: ImageLocation, image: SociImage): Promise<Map<string, BlobDescriptor>> {
  const indexDigest = await findSociIndex(location, image);
  if (indexDigest === undefined) return new Map();

  const { source, repository } = location;
  const parsed = parseManifest(await source.getManifest(repository, indexDigest), repository);
  if (parsed.kind !== "image" && parsed.kind !== "artifact") {
    log.warn("SOCI index is not an image manifest, so its zTOCs are not used", { repository, index: indexDigest, kind: parsed.kind });
    return new Map();
  }
  if (parsed.subject && parsed.subject.digest !== image.digest) {
    log.warn("SOCI index names another image as its subject, so its zTOCs are not used", {
      repository,
      index: indexDigest,
      subject: parsed.subject.digest,
      image: image.digest,
    });
    return new Map();
  }
  return ztocsByLayer(parsed.layers);
}

/** Returns the digest of the image's SOCI index, or undefined when it has none. */
async function findSociIndex(location: ImageLocation, image: SociImage): Promise<string | undefined> {
  const named = image.annotations[SOCI_INDEX_DIGEST_ANNOTATION];
  if (named !== undefined) {
    if (isDigest(named)) return named;
    log.warn("image names an invalid SOCI index digest, so it is not used", { image: image.digest, value: named });
    return undefined;
  }
  const referrers = await listReferrers(location.source, location.repository, image.digest);
  const indexes = referrers.filter((referrer) => referrer.artifactType === SOCI_INDEX_V1_ARTIFACT_TYPE);
  if (indexes.length > 1) {
    log.info("image has several SOCI indexes, using the first", { image: image.digest, count: indexes.length });
  }
  return indexes[0]?.digest;
}

function ztocsByLayer(layers: readonly Descriptor[]): Map<string, BlobDescriptor> {
  const ztocs = new Map<string, BlobDescriptor>();
  for (const layer of layers) {
    const layerDigest = layer.annotations?.[SOCI_LAYER_DIGEST_ANNOTATION];
    if (layerDigest === undefined || ztocs.has(layerDigest)) continue;
    ztocs.set(layerDigest, { digest: layer.digest, size: layer.size, mediaType: layer.mediaType });
  }
  return ztocs;
}
