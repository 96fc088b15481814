/**
 * Bumped whenever the shape or meaning of a stored index changes. Version 2
 * keeps a tar's entries in the tar's own order, repeated paths included,
 * and stores them apart from the totals (tar-listing-file.ts).
 */
export const LAYER_INDEX_VERSION = 2;

/** The fields that every layer index has, however it was built. */
interface LayerIndexBase {
  /** Format version of this record; a cached index of another version is rebuilt. */
  version: number;
  /** Digest of the compressed blob, as in the manifest. */
  digest: string;
  compression: "gzip" | "zstd" | "none";
  compressedSize: number;
  /** Paths that this layer deletes from the layers below (`dir/.wh.NAME` gives `dir/NAME`). */
  whiteouts: string[];
  /** Folders whose lower-layer contents are hidden (`dir/.wh..wh..opq`); `""` is the root. */
  opaqueDirectories: string[];
}

/**
 * The totals of one streaming pass over a layer's tar, with the whiteouts
 * the layer applies to the layers below it. The pass's entries are not part
 * of it: the cache stores them in a file of their own, read in order when a
 * tree is built, so no pass keeps a whole listing in memory. It is stored as
 * JSON, so every field is plain data.
 */
export interface TarLayerSummary extends LayerIndexBase {
  /** The offset space of `dataOffset`: the uncompressed tar. */
  offsets?: "tar";
  /** `sha256:<hex>` of the uncompressed tar stream (the config's diff ID). */
  diffId: string;
  uncompressedSize: number;
  /** How many entries the pass found, repeated paths counted each time. */
  entryCount: number;
}

/**
 * A tar pass's totals with its entries held in memory, as indexLayer returns
 * them. The entries are every tar member that the listing shows, in the
 * tar's order: a path may appear more than once, and each entry acts at its
 * position, as extracting the tar in order does. A hardlink has no content
 * of its own here; the tree gives it its target's.
 */
export interface TarLayerIndex extends TarLayerSummary {
  entries: LayerEntry[];
}

/**
 * A layer listed from the table of contents that an eStargz or zstd:chunked
 * blob carries, without reading the blob. Its `dataOffset`s point into a
 * virtual space of the file contents laid end to end in TOC order, not into
 * the tar, so it has no diff ID or tar size and must not be exported.
 */
export interface TocLayerIndex extends LayerIndexBase {
  offsets: "toc";
  /** Every entry of the TOC in its order, as TarLayerIndex.entries has the tar's. */
  entries: LayerEntry[];
  toc: TocKind;
  /** Bytes of the virtual content space: the sum of the regular files' sizes. */
  contentSize: number;
}

export type TocKind = "estargz" | "zstd:chunked";

/**
 * A gzip layer listed from the SOCI zTOC that an index artifact stores for
 * it, without reading the layer. Its `dataOffset`s are offsets in the
 * uncompressed tar, as the zTOC states them, and its bytes are read through
 * the zTOC's checkpoints. It has no diff ID, so export runs the tar pass.
 */
export interface SociLayerIndex extends LayerIndexBase {
  offsets: "soci";
  /** Every file of the zTOC in its order, as TarLayerIndex.entries has the tar's. */
  entries: LayerEntry[];
  /** Digest of the zTOC blob the listing came from. */
  ztoc: string;
  /** Size of the uncompressed tar as the zTOC states it, up to the end-of-archive blocks. */
  uncompressedSize: number;
}

export type LayerIndex = TarLayerIndex | TocLayerIndex | SociLayerIndex;

/**
 * The markers and entries a layer tree is built from: the entries in the
 * order they act, from memory or read from the cache one at a time.
 */
export interface LayerListing {
  entries: Iterable<LayerEntry>;
  whiteouts: readonly string[];
  opaqueDirectories: readonly string[];
}

/** Tells whether an index has the tar's offsets and diff ID, as only the full pass records them. */
export function isTarLayerIndex<T extends { offsets?: string }>(index: T): index is Extract<T, { offsets?: "tar" }> {
  return index.offsets === undefined || index.offsets === "tar";
}

export type LayerEntryType = "file" | "directory" | "symlink" | "hardlink";

export interface LayerEntry {
  /** Normalized path below the image root, without a leading `/`, such as `etc/os-release`. */
  path: string;
  type: LayerEntryType;
  /** Content bytes for a file; 0 otherwise. A hardlink gets its target's size in the layer tree. */
  size: number;
  /** Permission bits and file type bits as in the tar header. */
  mode: number;
  /** Modification time in milliseconds since the epoch. */
  modified: number;
  /** A symlink's target as written in the tar, or a hardlink's normalized target path. */
  linkTarget?: string;
  /**
   * Offset of the content in the uncompressed tar stream, or in the virtual
   * content space of a TOC listing (see TocLayerIndex). Set for files only.
   * A hardlink gets its target's content in the layer tree, from an earlier
   * entry of the layer, or when the layers are merged.
   */
  dataOffset?: number;
  /**
   * For a GNU sparse file, where its stored bytes lie in the file, as flat
   * `[offset, length, ...]` pairs. The bytes are stored end to end from
   * `dataOffset`, and the rest of the file, up to `size`, reads as zeros.
   */
  sparse?: number[];
}
