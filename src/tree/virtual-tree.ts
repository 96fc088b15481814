import type { Readable } from "node:stream";

import type { FolderDescription } from "./folder-description.js";

/**
 * The read-only folder tree that the WebDAV adapter serves. Paths are arrays
 * of decoded segment names: `[]` is the root, and no segment is empty, `.`
 * or `..` (the adapter rejects those before calling in).
 */
export interface VirtualTree {
  /** Describes one node. Throws RegdavError NOT_FOUND when it does not exist. */
  stat(path: readonly string[]): Promise<NodeInfo>;

  /** Lists a folder's children. Throws NOT_FOUND, or NOT_A_DIRECTORY for a file. */
  list(path: readonly string[]): Promise<NodeInfo[]>;

  /**
   * Opens a file's bytes from `start` to `end`, both inclusive, clamped by
   * the caller to the file's size. The stream errors, instead of ending
   * early, when the content fails verification.
   */
  read(path: readonly string[], range?: ByteRange): Promise<Readable>;

  /**
   * Describes a node and, for a file, returns a function that opens its
   * bytes like `read` without walking the path again, so a GET walks the
   * tree once. Optional: without it the adapter calls `stat`, then `read`.
   * Throws like `stat`.
   */
  lookup?(path: readonly string[]): Promise<FoundNode>;

  /**
   * Describes an image folder for its browser page: reference, digest,
   * platform, layers and the config's command and environment. Returns
   * undefined for other folders. Optional: a tree without it gets plain
   * listings. Throws like `stat` for a path that does not exist.
   */
  describeFolder?(path: readonly string[]): Promise<FolderDescription | undefined>;
}

/** A node found by `lookup`; `open` is present for files only. */
export interface FoundNode {
  info: NodeInfo;
  open?: (range?: ByteRange) => Promise<Readable>;
}

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

export interface NodeInfo {
  name: string;
  type: "file" | "directory";
  /** Bytes; 0 for a folder. */
  size: number;
  modified: Date;
  /** A strong validator, derived from a digest where one exists. */
  etag?: string;
  contentType?: string;
}
