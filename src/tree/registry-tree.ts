import type { Readable } from "node:stream";

import { RegdavError } from "../errors.js";
import { DescribedFolder } from "./described-folder.js";
import type { FolderDescription } from "./folder-description.js";
import { RootFolder } from "./root-folder.js";
import { isFolder, LazyFolder, type TreeNode } from "./tree-node.js";
import type { TreeContext } from "./tree-context.js";
import { findChild } from "./unicode-names.js";
import type { ByteRange, FoundNode, NodeInfo, VirtualTree } from "./virtual-tree.js";

/** NOT_FOUND for a path whose walk stopped at a node that does not exist. */
export class MissingNodeError extends RegdavError {
  /** The path up to and including the first missing segment. */
  readonly missingPath: readonly string[];

  constructor(missingPath: readonly string[]) {
    super("NOT_FOUND", `not found: /${missingPath.join("/")}`);
    this.name = "MissingNodeError";
    this.missingPath = missingPath;
  }
}

/**
 * The served tree: registries, repositories, tags, manifests, blobs and the
 * files inside layers. Each request walks from the root one segment at a
 * time, so it fetches only what the path needs.
 */
export class RegistryTree implements VirtualTree {
  private readonly root: RootFolder;

  constructor(context: TreeContext) {
    this.root = new RootFolder(context);
  }

  async stat(path: readonly string[]): Promise<NodeInfo> {
    return (await this.walk(path)).info;
  }

  async lookup(path: readonly string[]): Promise<FoundNode> {
    const node = await this.walk(path);
    if (isFolder(node)) return { info: node.info };
    return { info: node.info, open: (range) => node.open(range) };
  }

  async list(path: readonly string[]): Promise<NodeInfo[]> {
    const node = await this.walk(path);
    if (!isFolder(node)) throw new RegdavError("NOT_A_DIRECTORY", `not a folder: /${path.join("/")}`);
    return (await node.children()).map((child) => child.info);
  }

  async read(path: readonly string[], range?: ByteRange): Promise<Readable> {
    const node = await this.walk(path);
    if (isFolder(node)) throw new RegdavError("IS_A_DIRECTORY", `is a folder: /${path.join("/")}`);
    return node.open(range);
  }

  /** Describes an image folder; undefined for every other folder. */
  async describeFolder(path: readonly string[]): Promise<FolderDescription | undefined> {
    let node: TreeNode | undefined = await this.walk(path);
    if (node instanceof LazyFolder) node = await node.resolve();
    return node instanceof DescribedFolder ? node.describe(path) : undefined;
  }

  private async walk(path: readonly string[]): Promise<TreeNode> {
    let node: TreeNode = this.root;
    for (const [position, name] of path.entries()) {
      const next: TreeNode | undefined = isFolder(node) ? await findChild(node, name) : undefined;
      if (!next) throw new MissingNodeError(path.slice(0, position + 1));
      node = next;
    }
    return node;
  }
}
