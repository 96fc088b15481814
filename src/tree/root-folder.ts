import { NamespaceFolder } from "./namespace-folder.js";
import { isFileManagerProbe } from "./repository-names.js";
import { folderInfo, type FolderNode, type TreeNode } from "./tree-node.js";
import type { TreeContext } from "./tree-context.js";

/**
 * The root: one folder per registry given at start-up. Any other registry
 * is reachable too, by using its name as the first path segment.
 */
export class RootFolder implements FolderNode {
  readonly info = folderInfo("");

  constructor(private readonly context: TreeContext) {}

  async child(name: string): Promise<TreeNode | undefined> {
    if (isFileManagerProbe(name)) return undefined;
    const source = this.context.sourceFor(name);
    return source && new NamespaceFolder(this.context, source, []);
  }

  async children(): Promise<TreeNode[]> {
    const folders: TreeNode[] = [];
    for (const name of this.context.shownSources) {
      const folder = await this.child(name);
      if (folder) folders.push(folder);
    }
    return folders;
  }
}
