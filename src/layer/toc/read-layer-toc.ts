import type { LayerLimits } from "../layer-limits.js";
import type { RangeFetcher } from "./compressed-bytes.js";
import { readEstargzToc } from "./estargz-toc.js";
import type { TocLocation } from "./toc-annotations.js";
import { buildTocListing, type TocListing } from "./toc-index.js";
import { readZstdChunkedToc } from "./zstd-chunked-toc.js";

export interface LayerTocRequest {
  /** Digest of the layer blob. */
  digest: string;
  /** The blob's size from the manifest, when known. */
  size: number | undefined;
  location: TocLocation;
  limits: LayerLimits;
}

/**
 * Lists a layer from its table of contents: fetches the TOC by Range,
 * verifies it against the manifest annotation, and builds the index and the
 * chunk table. Throws TocUnusableError, or the fetcher's error, on failure.
 */
export async function readLayerToc(request: LayerTocRequest, fetch: RangeFetcher): Promise<TocListing> {
  const { location } = request;
  const toc =
    location.kind === "zstd:chunked"
      ? await readZstdChunkedToc(location, fetch, request.size)
      : await readEstargzToc(location.tocDigest, fetch, request.size);
  return buildTocListing(toc.entries, {
    toc: location.kind,
    digest: request.digest,
    compression: location.kind === "zstd:chunked" ? "zstd" : "gzip",
    compressedSize: request.size ?? toc.dataEnd,
    dataEnd: toc.dataEnd,
    limits: request.limits,
  });
}
