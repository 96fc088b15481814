import { RegdavError, notFound } from "../errors.js";
import { MAX_SYMLINK_HOPS, resolvePath } from "./resolve-path.js";
import type { ContentLocation, DirectoryNode, FileNode, TreeNode } from "./view-tree.js";

export type { ContentLocation } from "./view-tree.js";

/** One file or folder of the view, with symlinks already followed. */
export interface ViewNode {
  name: string;
  type: "file" | "directory";
  /** Content bytes for a file; 0 for a folder. */
  size: number;
  /** Permission bits (`mode & 0o7777`). */
  mode: number;
  /** Milliseconds since the epoch. */
  modified: number;
  /** Location of a file's bytes; absent for folders. */
  content?: ContentLocation;
}

/** A node reached by walking a path of the view, with the folders it was reached through. */
interface Position {
  name: string;
  node: FileNode | DirectoryNode;
  /** Canonical folders from the root to this folder, or to this file's parent. */
  folders: readonly DirectoryNode[];
  /** Every canonical folder on the way here, for the ancestor-link rule. */
  seen: readonly DirectoryNode[];
  /** True for a folder symlink to a folder it was reached through; it is shown empty. */
  cutOff: boolean;
}

type Step = { ok: true; position: Position } | { ok: false; problem: string };

/**
 * A read-only view of one layer's files or of the merged root filesystem.
 * Symlinks are followed inside the image: a link to a file shows as that
 * file, a link to a folder as that folder. Dangling links and loops are left
 * out of listings.
 *
 * A folder link that points at a folder it was reached through (itself, an
 * ancestor, or any folder on the path walked so far) shows as an empty
 * folder. Each followed link must then reach a new folder, so a recursive
 * walk such as `grep -r` ends.
 */
export class FilesystemView {
  constructor(private readonly root: DirectoryNode) {}

  /** Describes the node at a path. Throws NOT_FOUND, or NOT_A_DIRECTORY for a file in the path. */
  lookup(path: readonly string[]): ViewNode {
    return describe(this.walk(path));
  }

  /** Lists a folder's children. Throws NOT_FOUND, or NOT_A_DIRECTORY for a file. */
  list(path: readonly string[]): ViewNode[] {
    const position = this.walk(path);
    if (position.node.kind !== "directory") {
      throw new RegdavError("NOT_A_DIRECTORY", `${quote(path)} is a file, not a folder`);
    }
    if (position.cutOff) return [];

    const nodes: ViewNode[] = [];
    for (const [name, child] of position.node.children) {
      const step = this.step(position, name, child);
      if (step.ok) nodes.push(describe(step.position));
    }
    return nodes;
  }

  private walk(path: readonly string[]): Position {
    const root = this.root;
    let position: Position = { name: "", node: root, folders: [root], seen: [root], cutOff: false };
    for (let depth = 0; depth < path.length; depth++) {
      position = this.walkInto(position, path, depth);
    }
    return position;
  }

  /** Moves from the position at `path[0..depth)` to `path[depth]`, or throws naming what failed. */
  private walkInto(position: Position, path: readonly string[], depth: number): Position {
    const requested = quote(path.slice(0, depth + 1));
    const parent = quote(path.slice(0, depth));
    if (position.node.kind !== "directory") {
      throw new RegdavError("NOT_A_DIRECTORY", `${requested}: ${parent} is a file, not a folder`);
    }
    if (position.cutOff) {
      const reason = `the folder symlink ${parent} points back to a folder above it`;
      throw notFound(`${requested} not found: ${reason}, so it is shown empty`);
    }

    const child = position.node.children.get(path[depth]!);
    if (child === undefined) {
      const reason = position.node.missingReason?.(path[depth]!);
      const detail = reason === undefined ? "" : `: ${reason}`;
      throw notFound(`${requested} not found${detail}`);
    }
    const step = this.step(position, path[depth]!, child);
    if (!step.ok) throw notFound(`${requested} not found: ${step.problem}`);
    return step.position;
  }

  /** Moves from a folder position to one of its children, following a symlink child. */
  private step(parent: Position, name: string, child: TreeNode): Step {
    const { folders, seen } = parent;
    if (child.kind === "file") {
      return { ok: true, position: { name, node: child, folders, seen, cutOff: false } };
    }
    if (child.kind === "directory") {
      const inside = { folders: [...folders, child], seen: [...seen, child] };
      return { ok: true, position: { name, node: child, ...inside, cutOff: false } };
    }
    if (child.kind === "hardlink") return { ok: false, problem: "hardlink not resolved" };
    return this.followSymlink(parent, name, child.target);
  }

  private followSymlink(parent: Position, name: string, target: string): Step {
    // Resolving the link's own name, not its target, counts the link itself
    // toward MAX_SYMLINK_HOPS.
    const resolution = resolvePath(parent.folders, name, true);
    const quotedTarget = JSON.stringify(target);
    if (resolution.status === "loop") {
      const problem = `symlink to ${quotedTarget} has a loop (more than ${MAX_SYMLINK_HOPS} links)`;
      return { ok: false, problem };
    }
    if (resolution.status === "missing" || resolution.node.kind === "symlink" || resolution.node.kind === "hardlink") {
      return { ok: false, problem: `symlink target ${quotedTarget} does not exist` };
    }

    const { node, parents } = resolution;
    if (node.kind === "file") {
      const position = { name, node, folders: parents, seen: parent.seen, cutOff: false };
      return { ok: true, position };
    }
    // Folders are compared by path, because a merged view may make a new node for a folder it merged before.
    const cutOff = parent.seen.some((folder) => folder.path === node.path);
    const seen = cutOff ? parent.seen : [...parent.seen, ...parents, node];
    return { ok: true, position: { name, node, folders: [...parents, node], seen, cutOff } };
  }
}

function describe(position: Position): ViewNode {
  const { name, node } = position;
  const base = { name, mode: node.mode & 0o7777, modified: node.modified };
  if (node.kind === "directory") return { ...base, type: "directory", size: 0 };
  return { ...base, type: "file", size: node.content.size, content: node.content };
}

function quote(path: readonly string[]): string {
  return JSON.stringify(path.join("/"));
}
