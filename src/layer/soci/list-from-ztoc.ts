import { sha256Digest } from "../../reference/digest.js";
import type { LayerLimits } from "../layer-limits.js";
import { TocUnusableError } from "../toc/toc-error.js";
import { parseZtoc } from "./ztoc.js";
import { buildZtocListing, type ZtocListing } from "./ztoc-listing.js";

/**
 * Largest zTOC read. soci stores 32 KiB of window per 4 MiB span, so this
 * covers layers of several GiB; the whole zTOC is parsed in memory.
 */
export const MAX_ZTOC_BYTES = 128 * 1024 * 1024;

export interface ZtocLayer {
  /** Digest of the layer blob the zTOC describes. */
  digest: string;
  /** The layer's size from the manifest, when known. */
  compressedSize: number | undefined;
  limits: LayerLimits;
}

/**
 * Parses the bytes of a zTOC blob, already checked against its descriptor,
 * into the layer's listing. Throws TocUnusableError when the zTOC is
 * malformed or does not fit the layer.
 */
export function listFromZtoc(bytes: Buffer, layer: ZtocLayer): ZtocListing {
  const ztocDigest = sha256Digest(bytes);
  let ztoc;
  try {
    ztoc = parseZtoc(bytes, { maxEntries: layer.limits.maxEntries });
  } catch (error) {
    throw new TocUnusableError(`invalid zTOC ${ztocDigest}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return buildZtocListing(ztoc, { digest: layer.digest, ztocDigest, compressedSize: layer.compressedSize, limits: layer.limits });
}
