import { isDigest } from "../reference/digest.js";

/**
 * Reads a digest written as one path segment, `sha256:<hex>`, and returns it
 * in that form, or undefined when the segment is not a digest.
 */
export function parseDigestSegment(segment: string): string | undefined {
  return isDigest(segment) ? segment : undefined;
}
