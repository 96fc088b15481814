/** Bumped whenever the shape or meaning of a stored index changes. */
export const LAYER_INDEX_VERSION = 1;

/**
 * What one streaming pass over a layer learns: every tar entry with the
 * offset of its content in the uncompressed tar stream, and the whiteouts the
 * layer applies to the layers below it. It is stored as JSON in the cache, so
 * every field is plain data.
 */
export interface LayerIndex {
  /** Format version of this record; a cached index of another version is rebuilt. */
  version: number;
  /** Digest of the compressed blob, as in the manifest. */
  digest: string;
  /** `sha256:<hex>` of the uncompressed tar stream (the config's diff ID). */
  diffId: string;
  compression: "gzip" | "zstd" | "none";
  compressedSize: number;
  uncompressedSize: number;
  /** One entry per path, later tar entries replacing earlier ones, in tar order. */
  entries: LayerEntry[];
  /** Paths that this layer deletes from the layers below (`dir/.wh.NAME` gives `dir/NAME`). */
  whiteouts: string[];
  /** Folders whose lower-layer contents are hidden (`dir/.wh..wh..opq`); `""` is the root. */
  opaqueDirectories: string[];
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
   * Offset of the content in the uncompressed tar stream. Set for files, and
   * for hardlinks whose target file came earlier in the same layer (they
   * share its content). A hardlink without it points into a lower layer, or
   * to nothing, and is resolved when the layers are merged.
   */
  dataOffset?: number;
}
