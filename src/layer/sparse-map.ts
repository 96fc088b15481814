import { parseDecimal } from "./pax-records.js";
import { parseNumericField } from "./tar-header.js";

/**
 * The sparse map of a GNU sparse file: where its data segments lie in the
 * file, as flat pairs `[offset, length, offset, length, ...]` in increasing
 * order. The tar stores only the segments, laid end to end. The bytes
 * between them, and after the last one up to the file's size, are holes
 * that read as zeros.
 */
export type SparseSegments = number[];

/** Entries in the old GNU sparse header, and in each of its extension blocks. */
const HEADER_ENTRIES = 4;
const EXTENSION_ENTRIES = 21;
const ENTRY_BYTES = 24;
const HEADER_MAP_START = 386;
const HEADER_IS_EXTENDED = 482;
const HEADER_REAL_SIZE = 483;
const EXTENSION_IS_EXTENDED = 504;

/** The sparse fields of an old GNU header (type flag `S`). */
export interface GnuSparseHeader {
  realSize: number;
  segments: SparseSegments;
  /** Whether extension blocks with more entries follow the header. */
  extended: boolean;
}

/** Reads the sparse entries, real size and extension flag of an old GNU `S` header block. */
export function readGnuSparseHeader(
  block: Buffer,
  fail: (problem: string) => Error,
): GnuSparseHeader {
  const realSize = parseNumericField(block.subarray(HEADER_REAL_SIZE, HEADER_REAL_SIZE + 12));
  if (realSize === undefined || realSize < 0)
    throw fail("invalid real size field in GNU sparse header");
  const segments: SparseSegments = [];
  readGnuEntries(block, HEADER_MAP_START, HEADER_ENTRIES, segments, fail);
  return { realSize, segments, extended: block[HEADER_IS_EXTENDED] !== 0 };
}

/** Appends the entries of a GNU sparse extension block; returns whether another block follows. */
export function readGnuSparseExtension(
  block: Buffer,
  segments: SparseSegments,
  fail: (problem: string) => Error,
): boolean {
  readGnuEntries(block, 0, EXTENSION_ENTRIES, segments, fail);
  return block[EXTENSION_IS_EXTENDED] !== 0;
}

/** Reads up to `count` offset and length fields, until an offset field that starts with NUL. */
function readGnuEntries(
  block: Buffer,
  start: number,
  count: number,
  segments: SparseSegments,
  fail: (problem: string) => Error,
): void {
  for (let index = 0; index < count; index++) {
    const at = start + index * ENTRY_BYTES;
    if (block[at] === 0) return;
    const offset = parseNumericField(block.subarray(at, at + 12));
    const length = parseNumericField(block.subarray(at + 12, at + 24));
    if (offset === undefined || length === undefined)
      throw fail(`invalid GNU sparse entry ${segments.length / 2}`);
    segments.push(offset, length);
  }
}

/**
 * The sparse file that the `GNU.sparse.*` PAX records of GNU tar describe.
 * Format 0.0 repeats `GNU.sparse.offset` and `GNU.sparse.numbytes`, 0.1 has
 * them in `GNU.sparse.map`, and 1.0 stores the map at the start of the
 * member's data, where the tar scanner reads it with SparseMapText.
 */
export interface PaxSparse {
  /** Whether the map is at the start of the data (format 1.0). */
  mapInData: boolean;
  realSize: number;
  /** The file's name from `GNU.sparse.name`, in place of the header's placeholder name. */
  name?: string;
  /** The map of formats 0.0 and 0.1; empty for 1.0. */
  segments: SparseSegments;
}

/**
 * Reads the sparse file that PAX records describe, taken in their order so
 * that the repeated records of format 0.0 keep their pairs. Returns
 * undefined when no record marks a GNU sparse file.
 */
export function readPaxSparse(
  records: readonly [string, string][],
  fail: (problem: string) => Error,
): PaxSparse | undefined {
  if (!records.some(([key]) => key.startsWith("GNU.sparse."))) return undefined;
  const values = new Map(records);
  const map = values.get("GNU.sparse.map");
  const pairs = records.filter(
    ([key]) => key === "GNU.sparse.offset" || key === "GNU.sparse.numbytes",
  );
  // Formats 0.0 and 0.1 have no version records.
  const major = values.get("GNU.sparse.major") ?? "0";
  const version = `${major}.${values.get("GNU.sparse.minor") ?? "0"}`;
  if (version !== "0.0" && version !== "0.1" && version !== "1.0") {
    throw fail(`unknown GNU sparse format version ${version}`);
  }

  const sizeText = values.get("GNU.sparse.realsize") ?? values.get("GNU.sparse.size");
  const realSize = sizeText === undefined ? NaN : parseDecimal(sizeText);
  if (!Number.isSafeInteger(realSize))
    throw fail(`invalid GNU sparse size ${JSON.stringify(sizeText ?? "")}`);

  const sparse: PaxSparse = { mapInData: version === "1.0", realSize, segments: [] };
  const name = values.get("GNU.sparse.name");
  if (name !== undefined && name !== "") sparse.name = name;
  if (sparse.mapInData) return sparse;

  if (map !== undefined) {
    sparse.segments = map === "" ? [] : map.split(",").map(parseDecimal);
  } else {
    for (const [index, [key, value]] of pairs.entries()) {
      const expected = index % 2 === 0 ? "GNU.sparse.offset" : "GNU.sparse.numbytes";
      if (key !== expected)
        throw fail(`GNU sparse records out of order: ${key} where ${expected} was expected`);
      sparse.segments.push(parseDecimal(value));
    }
  }
  if (sparse.segments.length % 2 !== 0 || !sparse.segments.every(Number.isSafeInteger)) {
    throw fail("invalid GNU sparse map: it needs pairs of decimal offsets and lengths");
  }
  const blocks = values.get("GNU.sparse.numblocks");
  const entries = sparse.segments.length / 2;
  if (blocks !== undefined && parseDecimal(blocks) !== entries) {
    throw fail(`GNU sparse map has ${entries} entries, but GNU.sparse.numblocks is ${blocks}`);
  }
  return sparse;
}

/**
 * Reads the sparse map that format 1.0 stores at the start of a member's
 * data, one block at a time: decimal numbers, each ended by a newline, the
 * entry count first and then an offset and a length per entry. The map is
 * padded to whole blocks, so the stored bytes start at the block after the
 * one where it ends.
 */
export class SparseMapText {
  private readonly numbers: number[] = [];
  /** The start of a number that the previous block cut off. */
  private partial = "";

  /** Reads the next block of the map, and returns the map once this block completes it. */
  addBlock(block: Buffer, fail: (problem: string) => Error): SparseSegments | undefined {
    const text = block.toString("latin1");
    let start = 0;
    for (let end = text.indexOf("\n"); end >= 0; end = text.indexOf("\n", start)) {
      const value = parseDecimal(this.partial + text.slice(start, end));
      this.partial = "";
      if (!Number.isSafeInteger(value))
        throw fail("invalid number in the GNU sparse map at the start of the data");
      this.numbers.push(value);
      start = end + 1;
      if (this.numbers.length === 1 + 2 * this.numbers[0]!) return this.numbers.slice(1);
    }
    this.partial += text.slice(start);
    return undefined;
  }
}

/**
 * Checks that the segments are in increasing order, do not overlap, end
 * within the real size, and hold exactly the stored bytes. Returns a
 * problem, or undefined when the map is valid.
 */
export function sparseMapProblem(
  segments: SparseSegments,
  realSize: number,
  storedBytes: number,
): string | undefined {
  let end = 0;
  let total = 0;
  for (let index = 0; index < segments.length; index += 2) {
    const offset = segments[index]!;
    const length = segments[index + 1]!;
    if (offset < end || length < 0)
      return `GNU sparse entry ${index / 2} overlaps the one before it or is negative`;
    end = offset + length;
    total += length;
    if (end > realSize)
      return `GNU sparse entry ${index / 2} ends at ${end}, past the file's size of ${realSize}`;
  }
  if (total !== storedBytes)
    return `GNU sparse map covers ${total} bytes, but the member stores ${storedBytes}`;
  return undefined;
}
