import type { Readable } from "node:stream";

import type { ByteRange, NodeInfo } from "./virtual-tree.js";

/**
 * One node of the served tree. Folders find a child by name (often without
 * listing all of them) and list their children; files open a byte range.
 * Nodes are built lazily, so walking to a path fetches only what that path
 * needs.
 */
export interface FolderNode {
  readonly info: NodeInfo & { type: "directory" };
  child(name: string): Promise<TreeNode | undefined>;
  children(): Promise<TreeNode[]>;
}

export interface FileNode {
  readonly info: NodeInfo & { type: "file" };
  open(range: ByteRange | undefined): Promise<Readable>;
}

export type TreeNode = FolderNode | FileNode;

export function isFolder(node: TreeNode): node is FolderNode {
  return node.info.type === "directory";
}

/** The time the process started: the modification time of nodes that have none of their own. */
export const SERVER_START = new Date();

export function folderInfo(name: string, modified = SERVER_START, etag?: string) {
  const info: NodeInfo & { type: "directory" } = { name, type: "directory", size: 0, modified };
  if (etag) info.etag = etag;
  return info;
}

export function fileInfo(name: string, size: number, options: Partial<NodeInfo> = {}) {
  const info: NodeInfo & { type: "file" } = {
    modified: SERVER_START,
    ...options,
    name,
    type: "file",
    size,
  };
  return info;
}

/** A folder whose children are a fixed list, looked up by name. */
export class StaticFolder implements FolderNode {
  readonly info;

  constructor(
    name: string,
    private readonly entries: TreeNode[],
    modified?: Date,
  ) {
    this.info = folderInfo(name, modified);
  }

  async child(name: string) {
    return this.entries.find((entry) => entry.info.name === name);
  }

  async children() {
    return this.entries;
  }
}

/** A folder that computes its children once, on first use, and then looks them up by name. */
export abstract class ListedFolder implements FolderNode {
  abstract readonly info: NodeInfo & { type: "directory" };
  private listing: Promise<Map<string, TreeNode>> | undefined;

  protected abstract list(): Promise<TreeNode[]>;

  async child(name: string) {
    return (await this.byName()).get(name);
  }

  async children() {
    return [...(await this.byName()).values()];
  }

  private byName(): Promise<Map<string, TreeNode>> {
    this.listing ??= this.list().then(
      (nodes) => new Map(nodes.map((node) => [node.info.name, node])),
      (error: unknown) => {
        this.listing = undefined;
        throw error;
      },
    );
    return this.listing;
  }
}

/**
 * A folder known by name whose contents are found only when it is entered,
 * such as a listed tag whose manifest has not been fetched yet.
 */
export class LazyFolder implements FolderNode {
  readonly info;

  constructor(
    name: string,
    private readonly open: () => Promise<TreeNode | undefined>,
  ) {
    this.info = folderInfo(name);
  }

  /** Opens the folder this one stands for, or undefined when it does not exist. */
  resolve(): Promise<TreeNode | undefined> {
    return this.open();
  }

  async child(name: string): Promise<TreeNode | undefined> {
    const folder = await this.open();
    return folder && isFolder(folder) ? folder.child(name) : undefined;
  }

  async children(): Promise<TreeNode[]> {
    const folder = await this.open();
    return folder && isFolder(folder) ? folder.children() : [];
  }
}
