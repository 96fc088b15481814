import type { NodeInfo } from "../../tree/virtual-tree.js";
import { treePathOf } from "../tree-path.js";

/**
 * A node as `ls --json` and `find --json` print it. `path` is always the
 * absolute tree path, which `regdav cat` and `regdav ls` accept as it is.
 */
export interface NodeJson {
  path: string;
  name: string;
  type: "file" | "directory";
  /** Bytes; 0 for a folder. */
  size: number;
  /** ISO 8601 in UTC. */
  modified: string;
  /** A folder's children, for `ls --json`, nested with -R. */
  entries?: NodeJson[];
  /** The reason a folder could not be listed, in place of `entries`. */
  error?: string;
}

export function nodeJson(segments: readonly string[], info: NodeInfo): NodeJson {
  return {
    path: treePathOf(segments),
    name: info.name,
    type: info.type,
    size: info.size,
    modified: info.modified.toISOString(),
  };
}
