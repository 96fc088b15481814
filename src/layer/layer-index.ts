/** Bumped whenever the shape or meaning of a stored index changes. */
export const LAYER_INDEX_VERSION = 1;

/** The fields that every layer index has, however it was built. */
interface LayerIndexBase {
  /** Format version of this record; a cached index of another version is rebuilt. */
  version: number;
  /** Digest of the compressed blob, as in the manifest. */
  digest: string;
  compression: "gzip" | "zstd" | "none";
  compressedSize: number;
  /** One entry per path, later tar entries replacing earlier ones, in tar order. */
  entries: LayerEntry[];
  /** Paths that this layer deletes from the layers below (`dir/.wh.NAME` gives `dir/NAME`). */
  whiteouts: string[];
  /** Folders whose lower-layer contents are hidden (`dir/.wh..wh..opq`); `""` is the root. */
  opaqueDirectories: string[];
}

/**
 * The record of one streaming pass over a layer: every tar entry with the
 * offset of its content in the uncompressed tar stream, and the whiteouts the
 * layer applies to the layers below it. It is stored as JSON in the cache, so
 * every field is plain data.
 */
export interface TarLayerIndex extends LayerIndexBase {
  /** The offset space of `dataOffset`: the uncompressed tar. Indexes stored before this field existed lack it. */
  offsets?: "tar";
  /** `sha256:<hex>` of the uncompressed tar stream (the config's diff ID). */
  diffId: string;
  uncompressedSize: number;
}

/**
 * A layer listed from the table of contents that an eStargz or zstd:chunked
 * blob carries, without reading the blob. Its `dataOffset`s point into a
 * virtual space of the file contents laid end to end in TOC order, not into
 * the tar, so it has no diff ID or tar size and must not be exported.
 */
export interface TocLayerIndex extends LayerIndexBase {
  offsets: "toc";
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
  /** Digest of the zTOC blob the listing came from. */
  ztoc: string;
  /** Size of the uncompressed tar as the zTOC states it, up to the end-of-archive blocks. */
  uncompressedSize: number;
}

export type LayerIndex = TarLayerIndex | TocLayerIndex | SociLayerIndex;

/** Tells whether an index has the tar's offsets and diff ID, as only the full pass records them. */
export function isTarLayerIndex(index: LayerIndex): index is TarLayerIndex {
  return index.offsets === undefined || index.offsets === "tar";
}

export type LayerEntryType = "file" | "directory" | "symlink" | "hardlink";

export interface LayerEntry {
  /** Normalized path below the image root, without a leading `/`, such as `etc/os-release`. */
  path: string;
  type: LayerEntryType;
  /** Content bytes for a file, or for a hardlink whose `dataOffset` is set; 0 otherwise. */
  size: number;
  /** Permission bits and file type bits as in the tar header. */
  mode: number;
  /** Modification time in milliseconds since the epoch. */
  modified: number;
  /** A symlink's target as written in the tar, or a hardlink's normalized target path. */
  linkTarget?: string;
  /**
   * Offset of the content in the uncompressed tar stream, or in the virtual
   * content space of a TOC listing (see TocLayerIndex). Set for files, and
   * for hardlinks whose target file came earlier in the same layer (they
   * share its content). A hardlink without it points into a lower layer, or
   * to nothing, and is resolved when the layers are merged.
   */
  dataOffset?: number;
  /**
   * For a GNU sparse file, where its stored bytes lie in the file, as flat
   * `[offset, length, ...]` pairs. The bytes are stored end to end from
   * `dataOffset`, and the rest of the file, up to `size`, reads as zeros.
   */
  sparse?: number[];
}
