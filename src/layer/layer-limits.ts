/**
 * Limits that one layer pass enforces, so that a hostile layer cannot make
 * the index pass exhaust memory or fill the cache disk. A layer over any
 * limit fails with INVALID_LAYER.
 */
export interface LayerLimits {
  /** Maximum tar members (files, folders, links, whiteouts, skipped types) in one layer. */
  maxEntries: number;
  /** Maximum length in bytes of an entry name or link target, after PAX or GNU overrides. */
  maxPathBytes: number;
  /** Maximum bytes of the uncompressed tar stream: the guard against decompression bombs. */
  maxUncompressedSize: number;
  /** Maximum bytes of one PAX extended header, which the pass keeps in memory. */
  maxPaxHeaderSize: number;
}

/**
 * Bounds the index in memory, at roughly 200 bytes of heap per entry (an
 * estimate from indexing 2 million 40-byte paths on Node 20).
 */
export const DEFAULT_MAX_ENTRIES = 2_000_000;

/** Linux PATH_MAX, the longest path one system call accepts. */
export const DEFAULT_MAX_PATH_BYTES = 4096;

/** 64 GiB: well above typical layers, and a bound on what a bomb writes to the cache. */
export const DEFAULT_MAX_UNCOMPRESSED_SIZE = 64 * 1024 ** 3;

/** 1 MiB: PAX headers carry a path, a link target and attributes, usually a few KiB. */
export const DEFAULT_MAX_PAX_HEADER_SIZE = 1024 * 1024;

export const defaultLayerLimits: Readonly<LayerLimits> = {
  maxEntries: DEFAULT_MAX_ENTRIES,
  maxPathBytes: DEFAULT_MAX_PATH_BYTES,
  maxUncompressedSize: DEFAULT_MAX_UNCOMPRESSED_SIZE,
  maxPaxHeaderSize: DEFAULT_MAX_PAX_HEADER_SIZE,
};

/** Fills the limits a caller left out, or set to undefined, with the defaults. */
export function resolveLayerLimits(overrides: Partial<LayerLimits> | undefined): LayerLimits {
  return {
    maxEntries: overrides?.maxEntries ?? DEFAULT_MAX_ENTRIES,
    maxPathBytes: overrides?.maxPathBytes ?? DEFAULT_MAX_PATH_BYTES,
    maxUncompressedSize: overrides?.maxUncompressedSize ?? DEFAULT_MAX_UNCOMPRESSED_SIZE,
    maxPaxHeaderSize: overrides?.maxPaxHeaderSize ?? DEFAULT_MAX_PAX_HEADER_SIZE,
  };
}
