import { isNotFound, RegdavError } from "../errors.js";
import type { NodeInfo, VirtualTree } from "../tree/virtual-tree.js";
import { isServableName } from "./segment-rules.js";

/**
 * A per-request memo over a VirtualTree. Each path is stat'ed or listed at
 * most once per lookup, concurrent callers share one promise, and a listing
 * also fills the stat entries of its children. webdav-server reads several
 * properties of every node in a PROPFIND, each with a call of its own, so
 * without the memo one Depth 1 request would stat each child several times.
 */
export class NodeLookup {
  private readonly nodes = new Map<string, Promise<NodeInfo>>();
  private readonly listings = new Map<string, Promise<NodeInfo[]>>();
  private readonly failures: unknown[] = [];

  constructor(private readonly tree: VirtualTree) {}

  stat(path: readonly string[]): Promise<NodeInfo> {
    const key = keyOf(path);
    let node = this.nodes.get(key);
    if (node === undefined) {
      node = Promise.resolve().then(() => this.tree.stat(path));
      this.nodes.set(key, node);
    }
    return node;
  }

  list(path: readonly string[]): Promise<NodeInfo[]> {
    const key = keyOf(path);
    let children = this.listings.get(key);
    if (children === undefined) {
      children = Promise.resolve()
        .then(() => this.tree.list(path))
        .then((nodes) => this.rememberChildren(path, nodes));
      this.listings.set(key, children);
    }
    return children;
  }

  /** Records an error that webdav-server received but would turn into a bare 500 or drop. */
  recordFailure(error: unknown): void {
    this.failures.push(error);
  }

  /**
   * Returns the recorded error that should replace webdav-server's response,
   * if any. Any error other than not-found does, because a listing missing a
   * node it failed to read would look complete. A not-found replaces only a
   * response that is not 207, since webdav-server omits a child that
   * vanished between listing and stat and the rest of the listing is valid.
   */
  failureFor(status: number): unknown {
    const serious = this.failures.find((error) => !isNodeMissing(error));
    if (serious !== undefined) return serious;
    return status === 207 ? undefined : this.failures[0];
  }

  private rememberChildren(path: readonly string[], children: NodeInfo[]): NodeInfo[] {
    for (const child of children) {
      if (!isServableName(child.name)) continue;
      this.nodes.set(keyOf([...path, child.name]), Promise.resolve(child));
    }
    return children;
  }
}

/** Returns whether the error means the node is absent: NOT_FOUND, or NOT_A_DIRECTORY from list. */
export function isNodeMissing(error: unknown): boolean {
  return isNotFound(error) || (error instanceof RegdavError && error.code === "NOT_A_DIRECTORY");
}

/** Joins segments with `/`, which no servable segment contains, so the key is unique. */
function keyOf(path: readonly string[]): string {
  return path.join("/");
}
