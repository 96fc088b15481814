import { computeDigest } from "../../reference/digest.js";
import { fetchBytes, unzstdPrefix, type RangeFetcher } from "./compressed-bytes.js";
import type { TocLocation } from "./toc-annotations.js";
import { parseTocDocument, type TocEntry } from "./toc-entries.js";
import { TocUnusableError } from "./toc-error.js";

/**
 * Largest TOC read into memory, compressed or not. JSON.parse builds the
 * whole document before any entry is checked. Its worst case found is an
 * array of `1.5`: 128 MiB of it took 0.9 GiB of heap and blocked the event
 * loop for 12 s (Node 20, 2-core machine), within Node's default heap of
 * about 4 GiB. At an estimated 400 bytes of JSON per entry, this fits a TOC
 * of about 300,000 files. A larger TOC is unusable, and the layer is
 * indexed by the full pass.
 */
export const MAX_TOC_BYTES = 128 * 1024 * 1024;

/**
 * Fetches a zstd:chunked TOC from where the manifest-position annotation
 * points, checks the compressed bytes against the manifest-checksum
 * annotation, and parses the JSON inside its zstd frame.
 *
 * Throws TocUnusableError on any problem with the TOC.
 */
export async function readZstdChunkedToc(
  location: Extract<TocLocation, { kind: "zstd:chunked" }>,
  fetch: RangeFetcher,
  blobSize: number | undefined,
): Promise<{ entries: TocEntry[]; dataEnd: number }> {
  const { offset, length, uncompressedLength } = location;
  if (length === 0 || length > MAX_TOC_BYTES || uncompressedLength > MAX_TOC_BYTES) {
    throw new TocUnusableError(`the zstd:chunked TOC is ${length} bytes (${uncompressedLength} uncompressed), outside 1 to ${MAX_TOC_BYTES}`);
  }
  if (blobSize !== undefined && offset + length > blobSize) {
    throw new TocUnusableError(`the zstd:chunked TOC at bytes ${offset}-${offset + length - 1} lies beyond the blob's ${blobSize} bytes`);
  }

  const compressed = await fetchBytes(fetch, offset, offset + length);
  const actual = computeDigest(compressed);
  if (actual !== location.tocDigest) {
    throw new TocUnusableError(`the zstd:chunked TOC has digest ${actual}, but the manifest annotation states ${location.tocDigest}`);
  }

  let json: Buffer;
  try {
    json = await unzstdPrefix(compressed, uncompressedLength + 1);
  } catch (error) {
    throw new TocUnusableError(`the zstd:chunked TOC does not decompress: ${(error as Error).message}`, { cause: error });
  }
  if (json.length !== uncompressedLength) {
    throw new TocUnusableError(`the zstd:chunked TOC decompressed to ${json.length} bytes, but the annotation states ${uncompressedLength}`);
  }
  return { entries: parseTocDocument(json, "the zstd:chunked TOC"), dataEnd: offset };
}
