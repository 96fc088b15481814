const DIGEST_BY_ALGORITHM: Record<string, RegExp> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};

/**
 * Reads a digest written as one path segment, `sha256:<hex>`, and returns it
 * in that form, or undefined when the segment is not a digest.
 */
export function parseDigestSegment(segment: string): string | undefined {
  const [algorithm, hex, extra] = segment.split(":");
  if (extra !== undefined || !algorithm || !hex) return undefined;
  const pattern = DIGEST_BY_ALGORITHM[algorithm];
  return pattern && pattern.test(hex) ? `${algorithm}:${hex}` : undefined;
}
