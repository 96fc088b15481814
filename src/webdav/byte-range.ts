import type { ByteRange } from "../tree/virtual-tree.js";
import { UnsatisfiableRangeError } from "./error-response.js";

/** The part of a file that a GET response carries: all of it, or one inclusive byte range. */
export type RangeSelection = { kind: "whole" } | { kind: "partial"; range: ByteRange };

const WHOLE: RangeSelection = { kind: "whole" };

/**
 * Selects the bytes that a Range header requests from a file of `size` bytes
 * (RFC 9110, section 14). Forms `a-b`, `a-` and `-n` give one range, with
 * the end clamped to the file. Throws UnsatisfiableRangeError when the range
 * starts at or past the end, or for `-0`. Returns the whole file for a missing
 * or malformed header, a unit other than bytes, several ranges (no
 * multipart/byteranges) and a file of 0 bytes, which no range can select.
 */
export function selectRange(header: string | undefined, size: number): RangeSelection {
  if (header === undefined || size === 0) return WHOLE;

  const unit = /^bytes=(.*)$/is.exec(header.trim());
  if (unit === null || unit[1] === undefined) return WHOLE;

  const specs = unit[1]
    .split(",")
    .map((spec) => spec.trim())
    .filter((spec) => spec !== "");
  if (specs.length !== 1 || specs[0] === undefined) return WHOLE;
  return selectOneRange(specs[0], size, header);
}

function selectOneRange(spec: string, size: number, header: string): RangeSelection {
  const bounds = /^(\d*)-(\d*)$/.exec(spec);
  if (bounds === null) return WHOLE;
  const [, first = "", last = ""] = bounds;

  if (first === "") return selectSuffix(last, size, header);

  const start = Number(first);
  const end = last === "" ? Infinity : Number(last);
  // A last byte before the first makes the header invalid, and an invalid header is ignored.
  if (end < start) return WHOLE;
  if (start >= size) throw new UnsatisfiableRangeError(size, header);
  return { kind: "partial", range: { start, end: Math.min(end, size - 1) } };
}

/** Selects the last `length` bytes, or the whole file when it is shorter. */
function selectSuffix(length: string, size: number, header: string): RangeSelection {
  if (length === "") return WHOLE;
  const count = Number(length);
  if (count === 0) throw new UnsatisfiableRangeError(size, header);
  return { kind: "partial", range: { start: Math.max(0, size - count), end: size - 1 } };
}

/** Returns the number of bytes in an inclusive range. */
export function lengthOf(range: ByteRange): number {
  return range.end - range.start + 1;
}
