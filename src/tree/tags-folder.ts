import { isValidTag } from "../reference/grammar.js";
import type { SourceCache } from "../cache/source-cache.js";
import { openImageFolder } from "./image-folder.js";
import { isFileManagerProbe } from "./repository-names.js";
import { folderInfo, LazyFolder, ListedFolder, type TreeNode } from "./tree-node.js";
import type { TreeContext } from "./tree-context.js";

/**
 * `_tags/`: one image folder per tag. Listing it fetches only the tag list;
 * a tag's manifest is fetched when its folder is opened.
 */
export class TagsFolder extends ListedFolder {
  readonly info = folderInfo("_tags");

  constructor(
    private readonly context: TreeContext,
    private readonly source: SourceCache,
    private readonly repository: string,
  ) {
    super();
  }

  override async child(name: string): Promise<TreeNode | undefined> {
    // `Thumbs.db` and `desktop.ini` are valid tags, so without this check each
    // probe would fetch a manifest.
    if (!isValidTag(name) || isFileManagerProbe(name)) return undefined;
    return openImageFolder(this.context, this.source, this.repository, name, name);
  }

  protected async list(): Promise<TreeNode[]> {
    const tags = await this.source.listTags(this.repository);
    return tags
      .filter((tag) => isValidTag(tag))
      .map((tag) => new LazyFolder(tag, () => this.child(tag)));
  }
}
