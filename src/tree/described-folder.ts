import type { FolderDescription } from "./folder-description.js";
import { StaticFolder, type TreeNode } from "./tree-node.js";

/** A folder of fixed children that can also describe itself, such as an image folder. */
export class DescribedFolder extends StaticFolder {
  constructor(
    name: string,
    entries: TreeNode[],
    private readonly describer: (path: readonly string[]) => Promise<FolderDescription>,
  ) {
    super(name, entries);
  }

  /** Describes the folder as reached by `path`, which decides whether it is named by tag. */
  describe(path: readonly string[]): Promise<FolderDescription> {
    return this.describer(path);
  }
}
