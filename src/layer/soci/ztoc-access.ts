/**
 * A place to start inflating a gzip layer, from a SOCI zTOC checkpoint,
 * with the digest of the compressed bytes of the span that starts there.
 */
export interface ZtocSpanStart {
  uncompressedOffset: number;
  /** Bit where the span's first deflate block begins, bit 0 being a byte's lowest bit. */
  compressedBitOffset: number;
  /** The checkpoint's `in`: the byte after the one that holds the block's first bits, if any. */
  compressedOffset: number;
  /** The uncompressed bytes before this point, up to 32 KiB, that the block may refer back to. */
  window: Buffer;
  /** `sha256:<hex>` of the span's compressed bytes, as soci computes it. */
  digest: string;
}

/** The data for reading a gzip layer through its zTOC: the span starts, in stream order. */
export interface ZtocAccess {
  /** Digest of the layer blob. */
  digest: string;
  compressedSize: number;
  /** Size of the uncompressed tar as the zTOC states it. */
  uncompressedSize: number;
  spans: ZtocSpanStart[];
  /** The zTOC name of the regular file whose content starts at each tar offset, for the header check. */
  contentNames: Map<number, string>;
}

/**
 * Returns the compressed bytes [start, end) whose digest soci stores for
 * span i. The span starts at the byte holding its first bit and ends at the
 * next checkpoint's `in`, so when that checkpoint starts inside a byte,
 * that byte belongs to both spans.
 */
export function spanBytes(access: ZtocAccess, i: number): { start: number; end: number } {
  const span = access.spans[i]!;
  const next = access.spans[i + 1];
  return { start: Math.floor(span.compressedBitOffset / 8), end: next ? next.compressedOffset : access.compressedSize };
}
