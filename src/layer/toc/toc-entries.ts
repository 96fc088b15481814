import { DEFAULT_MAX_ENTRIES } from "../layer-limits.js";
import { TocUnusableError } from "./toc-error.js";

/** Entry types of eStargz and zstd:chunked TOCs; `chunk` continues the regular file before it. */
export type TocEntryType = "reg" | "dir" | "symlink" | "hardlink" | "char" | "block" | "fifo" | "chunk";

const ENTRY_TYPES = new Set<string>(["reg", "dir", "symlink", "hardlink", "char", "block", "fifo", "chunk"]);

/**
 * One TOC entry with the fields both formats share, checked for type. Which
 * fields a format sets differs: eStargz gives `innerOffset` for chunks
 * packed into one gzip member, zstd:chunked gives `endOffset` for the end of
 * a file's frames and `chunkType` for holes.
 */
export interface TocEntry {
  type: TocEntryType;
  name: string;
  linkName: string;
  mode: number;
  size: number;
  /** Milliseconds since the epoch, 0 when the entry has none. */
  modified: number;
  /** Compressed offset where the entry's (first chunk's) data starts. */
  offset?: number;
  endOffset?: number;
  chunkOffset: number;
  chunkSize?: number;
  chunkDigest?: string;
  digest?: string;
  innerOffset: number;
  chunkType?: string;
}

/**
 * Most JSON objects and arrays a TOC may open: one object per entry, and one
 * more for its `xattrs`, at the entry limit. JSON.parse builds every object
 * before any is checked. 128 MiB of `{},` is 44 million objects, which took
 * 95 s and 3.2 GiB of heap on Node 20 (2-core machine), so a document that
 * opens more is rejected before parsing.
 */
export const MAX_TOC_CONTAINERS = 2 * DEFAULT_MAX_ENTRIES + 8;

/** Parses the TOC JSON document `{ version, entries }` and checks its version. */
export function parseTocDocument(json: Buffer, label: string): TocEntry[] {
  const containers = countContainers(json, MAX_TOC_CONTAINERS);
  if (containers > MAX_TOC_CONTAINERS) {
    throw new TocUnusableError(`${label} opens more than ${MAX_TOC_CONTAINERS} JSON objects and arrays, more than its entries can need`);
  }
  let document: unknown;
  try {
    document = JSON.parse(json.toString("utf8"));
  } catch (error) {
    throw new TocUnusableError(`${label} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof document !== "object" || document === null) throw new TocUnusableError(`${label} is not a JSON object`);
  const { version, entries } = document as { version?: unknown; entries?: unknown };
  if (version !== 1) throw new TocUnusableError(`${label} has version ${JSON.stringify(version)}, only version 1 is supported`);
  if (!Array.isArray(entries)) throw new TocUnusableError(`${label} has no "entries" array`);
  return entries.map((entry, position) => parseEntry(entry, `${label} entry ${position}`));
}

/**
 * Counts the bytes `{` and `[` in `json`, stopping once the count passes
 * `max`. Braces inside strings count too, so the result is an upper bound of
 * the containers JSON.parse would build.
 */
function countContainers(json: Buffer, max: number): number {
  let count = 0;
  for (const byte of [0x7b, 0x5b]) {
    for (let position = json.indexOf(byte); position >= 0 && count <= max; position = json.indexOf(byte, position + 1)) count++;
  }
  return count;
}

function parseEntry(value: unknown, label: string): TocEntry {
  if (typeof value !== "object" || value === null) throw new TocUnusableError(`${label} is not an object`);
  const fields = value as Record<string, unknown>;
  const type = fields.type;
  if (typeof type !== "string" || !ENTRY_TYPES.has(type)) {
    throw new TocUnusableError(`${label} has unknown type ${JSON.stringify(type)}`);
  }
  const name = optionalString(fields, "name", label);
  if (!name) throw new TocUnusableError(`${label} has no name`);
  const linkName = optionalString(fields, "linkName", label) ?? "";
  rejectNul(name, "name", label);
  rejectNul(linkName, "linkName", label);
  rejectLoneSurrogate(name, "name", label);
  rejectLoneSurrogate(linkName, "linkName", label);

  const entry: TocEntry = {
    type: type as TocEntryType,
    name,
    linkName,
    mode: optionalInteger(fields, "mode", label) ?? 0,
    size: optionalInteger(fields, "size", label) ?? 0,
    modified: parseModified(fields.modtime, label),
    chunkOffset: optionalInteger(fields, "chunkOffset", label) ?? 0,
    innerOffset: optionalInteger(fields, "innerOffset", label) ?? 0,
  };
  const offset = optionalInteger(fields, "offset", label);
  const endOffset = optionalInteger(fields, "endOffset", label);
  const chunkSize = optionalInteger(fields, "chunkSize", label);
  const chunkDigest = optionalString(fields, "chunkDigest", label);
  const digest = optionalString(fields, "digest", label);
  const chunkType = optionalString(fields, "chunkType", label);
  if (offset !== undefined) entry.offset = offset;
  if (endOffset !== undefined) entry.endOffset = endOffset;
  if (chunkSize !== undefined) entry.chunkSize = chunkSize;
  if (chunkDigest) entry.chunkDigest = chunkDigest;
  if (digest) entry.digest = digest;
  if (chunkType) entry.chunkType = chunkType;
  return entry;
}

/**
 * Rejects a NUL byte in a name or link target. A tar header ends its names at
 * the first NUL, so the layer's tar cannot contain such a name, and a TOC
 * that states one does not describe the tar it comes with.
 */
function rejectNul(value: string, key: string, label: string): void {
  if (value.includes("\u0000")) {
    throw new TocUnusableError(`${label}: "${key}" ${JSON.stringify(value.slice(0, 100))} contains a NUL byte, which no tar name can contain`);
  }
}

/**
 * Rejects a name or link target with a lone UTF-16 surrogate, which JSON
 * escapes can write. regdav decodes tar names as UTF-8 or Latin-1, which
 * never gives one, so such a TOC does not describe its tar. Two such names
 * would also both become the same UTF-8 bytes in a layer tree file.
 */
function rejectLoneSurrogate(value: string, key: string, label: string): void {
  if (/\p{Cs}/u.test(value)) {
    throw new TocUnusableError(`${label}: "${key}" ${JSON.stringify(value.slice(0, 100))} contains a lone UTF-16 surrogate, which no tar name decodes to`);
  }
}

function optionalString(fields: Record<string, unknown>, key: string, label: string): string | undefined {
  const value = fields[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new TocUnusableError(`${label}: "${key}" is ${JSON.stringify(value)}, expected a string`);
  return value;
}

function optionalInteger(fields: Record<string, unknown>, key: string, label: string): number | undefined {
  const value = fields[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new TocUnusableError(`${label}: "${key}" is ${JSON.stringify(value)}, expected an integer of 0 or more`);
  }
  return value;
}

/** Parses an RFC 3339 modification time; Go writes the zero time as 0001-01-01T00:00:00Z. */
function parseModified(value: unknown, label: string): number {
  if (value === undefined || value === null || value === "") return 0;
  const time = typeof value === "string" ? Date.parse(value) : NaN;
  if (Number.isNaN(time)) throw new TocUnusableError(`${label}: "modtime" is ${JSON.stringify(value)}, expected an RFC 3339 time`);
  return time;
}
