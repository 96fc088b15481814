import type { TocListing } from "./toc-index.js";

/**
 * Bumped whenever the shape or meaning of a stored TOC listing changes.
 * Version 2 keeps every TOC entry in order, as the tar pass lists a tar.
 */
export const TOC_RECORD_VERSION = 2;

/** Serializes a TOC listing (index and chunk table) for the cache, as one JSON document. */
export function serializeTocListing(listing: TocListing): string {
  return JSON.stringify({ version: TOC_RECORD_VERSION, index: listing.index, table: listing.table });
}

/**
 * Parses a stored TOC listing. Returns undefined for a record of another
 * version or another layer, or one whose shape is wrong, so it is rebuilt.
 */
export function parseTocListing(text: string, digest: string): TocListing | undefined {
  const record = JSON.parse(text) as Partial<{ version: number } & TocListing>;
  if (record.version !== TOC_RECORD_VERSION || !record.index || !record.table) return undefined;
  if (record.index.offsets !== "toc" || record.index.digest !== digest || record.table.digest !== digest) return undefined;
  if (!Array.isArray(record.index.entries) || !Array.isArray(record.table.chunks)) return undefined;
  return { index: record.index, table: record.table };
}
